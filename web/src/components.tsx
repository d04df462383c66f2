import { isValidElement, type ReactNode } from 'react';
/** The console's shared pieces: one table, labelled fields and choices. */

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

/** A labelled field of a form or a filter row. */
export function Field(p: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="grow">
      <label htmlFor={p.id}>{p.label}</label>
      {p.children}
    </div>
  );
}

/** A labelled choice among values; a [value, words] pair shows other words than its value. */
export function Choice(p: { id: string; label: string; value: string; onChange: (e: { target: { value: string } }) => void; options: (string | [string, string])[] }) {
  return (
    <Field id={p.id} label={p.label}>
      <select id={p.id} value={p.value} onChange={p.onChange}>
        {p.options.map((o) => (Array.isArray(o) ? <option key={o[0]} value={o[0]}>{o[1]}</option> : <option key={o}>{o}</option>))}
      </select>
    </Field>
  );
}
