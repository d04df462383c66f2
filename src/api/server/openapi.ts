import { z } from 'zod';
import { errorTable } from '../../kernel/index.js';
import type { RouteTable } from './http.js';

function schemaOf(s: unknown, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const j = z.toJSONSchema(s as z.ZodType, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete j.$schema;
  return j;
}

/** OpenAPI 3.1 from the route table: the same schemas that validate requests describe them. */
export function openApiDocument(t: RouteTable, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of t.routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = schemaOf(r.query) as { properties?: Record<string, unknown> };
      for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: 'query', required: false, schema: schema as { type: string } });
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.url.replace(/[/:{}-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      'x-required-role': r.access,
      ...(params.length ? { parameters: params } : {}),
      ...(r.access === 'public' ? { security: [] } : {}),
      responses: {
        [String(r.status ?? 200)]: r.sse ? { description: 'text/event-stream', content: { 'text/event-stream': {} } } : r.binary ? { description: 'a file or text' } : { description: 'OK', content: { 'application/json': { schema: schemaOf(r.response, 'output') } } },
        default: { description: 'An error: { error: { code, message, details } }', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } };
    if (r.rawBody) op.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Strongbox API', version, description: 'Snapshots — backup, restore and disaster recovery — for self-hosted applications. Authenticate with a session cookie (the console; state changes need X-CSRF-Token) or an API token (Authorization: Bearer TOKEN).' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (strongbox token create)' }, cookie: { type: 'apiKey', in: 'cookie', name: 'strongbox_session' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', enum: Object.keys(errorTable) }, message: { type: 'string' }, details: { type: 'object' } } } },
        },
      },
    },
    'x-error-statuses': Object.fromEntries(Object.entries(errorTable).map(([k, v]) => [k, v.http])),
  };
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A readable reference page: every route by tag, with its role and body schema. */
export function referencePage(t: RouteTable, version: string): string {
  const tags = [...new Set(t.routes.map((r) => r.tag))];
  const section = (tag: string) =>
    `<h2 id="${tag}">${escapeHtml(tag)}</h2>` +
    t.routes
      .filter((r) => r.tag === tag)
      .map(
        (r) => `<div class="route"><div><span class="m ${r.method}">${r.method}</span> <code>${escapeHtml(r.url)}</code> <span class="role">${r.access}</span></div><p>${escapeHtml(r.summary)}</p>${r.description ? `<p>${escapeHtml(r.description)}</p>` : ''}${r.body ? `<details><summary>Request body</summary><pre>${escapeHtml(JSON.stringify(schemaOf(r.body), null, 2))}</pre></details>` : ''}${r.query ? `<details><summary>Query</summary><pre>${escapeHtml(JSON.stringify(schemaOf(r.query), null, 2))}</pre></details>` : ''}${r.response ? `<details><summary>Response</summary><pre>${escapeHtml(JSON.stringify(schemaOf(r.response, 'output'), null, 2))}</pre></details>` : ''}</div>`,
      )
      .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Strongbox API ${version}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1d2330}code,pre{font:13px ui-monospace,monospace}pre{background:#f4f6f9;padding:.6rem;overflow:auto}.route{border-top:1px solid #e3e7ee;padding:.6rem 0}.m{display:inline-block;min-width:4.2em;font-weight:600}.GET{color:#1b6e3a}.POST{color:#1f4fa8}.DELETE{color:#a8321f}.PUT,.PATCH{color:#8a5a00}.role{float:right;color:#5b6577;font-size:13px}nav a{margin-right:1em}</style></head>
<body><h1>Strongbox API <small>${version}</small></h1><p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). Errors are <code>{ "error": { "code", "message", "details" } }</code> with the HTTP status of their code. Sign in with <code>POST /api/auth/login</code> (cookie + <code>X-CSRF-Token</code> on changes) or send <code>Authorization: Bearer TOKEN</code>. The role after each route is the least it needs (viewer &lt; operator &lt; admin).</p>
<nav>${tags.map((x) => `<a href="#${x}">${x}</a>`).join('')}</nav>${tags.map(section).join('')}</body></html>`;
}
