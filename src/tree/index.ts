/** The snapshot data model: tree nodes, trees, snapshot manifests, walking and finding. */
export * from './node.js';
export * from './scan.js';
export * from './snapshot.js';
export * from './walk.js';
export * from './filter.js';
