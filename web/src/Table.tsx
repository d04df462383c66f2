import { isValidElement, type ReactNode } from 'react';

/**
 * The console's one table: a head, a row per item, a cell per value. A cell
 * that is already a <td> (a class, a style) is used as it is.
 */
export function Table<T>(p: { label?: string; head?: (string | null)[]; rows: T[]; rowKey: (row: T) => string | number; cells: (row: T) => ReactNode[] }) {
  return (
    <table {...(p.label ? { 'aria-label': p.label } : {})}>
      {p.head && (
        <thead>
          <tr>
            {p.head.map((h, i) => (h ? <th key={i}>{h}</th> : <th key={i} />))}
          </tr>
        </thead>
      )}
      <tbody>
        {p.rows.map((r) => (
          <tr key={p.rowKey(r)}>{p.cells(r).map((c, i) => (isValidElement(c) && c.type === 'td' ? <c.type key={i} {...(c.props as object)} /> : <td key={i}>{c}</td>))}</tr>
        ))}
      </tbody>
    </table>
  );
}
