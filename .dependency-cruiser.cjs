/**
 * The layering of ARCHITECTURE.md, enforced: dependencies point one way,
 * kernel <- storage <- repo <- tree <- engine <- (jobs, catalog, app) <- api <- cli.
 */
const layers = ['kernel', 'storage', 'repo', 'tree', 'hooks', 'sources', 'spec', 'engine', 'jobs', 'catalog', 'app', 'operations', 'api', 'cli'];
const rules = [];
layers.forEach((layer, i) => {
  const above = layers.slice(i + 1);
  if (above.length === 0) return;
  rules.push({
    name: `${layer}-not-upward`,
    comment: `${layer}/ must not import from a layer above it (${above.join(', ')})`,
    severity: 'error',
    from: { path: `^src/${layer}/`, pathNot: '\\.test\\.ts$' },
    to: { path: `^src/(${above.join('|')})/` },
  });
});
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'web-talks-to-the-api-contract-only',
      comment: 'the console imports nothing of the server but the API contract (ARCHITECTURE.md)',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: '^src/api/contract/' },
    },
    {
      name: 'repo-knows-only-the-backend-contract',
      comment: 'repo/ talks to storage through the Backend interface, never a concrete backend',
      severity: 'error',
      from: { path: '^src/repo/' },
      to: { path: '^src/storage/(local|s3|azure|sftp)/' },
    },
    {
      name: 'only-the-repository-touches-a-backend',
      comment: 'the Repository owns its layout: outside src/repo/ only the composition root (src/app/) and storage itself reach the Backend contract or a store',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(repo|storage|app)/', '\\.test\\.ts$'] },
      to: { path: '^src/storage/' },
    },
    {
      name: 'cli-is-parse-operation-render',
      comment: 'the CLI calls the operations (in-process or through the HTTP client) and renders; it imports no lower layer but the composition root and the kernel',
      severity: 'error',
      from: { path: '^src/cli/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/(storage|repo|tree|hooks|sources|spec|engine|jobs|catalog)/' },
    },
    ...rules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
