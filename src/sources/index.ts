import type { z } from 'zod';
/**
 * Component kinds: where an application's state lives and how each kind is
 * captured and brought back with the field's own tools (pg_dump, mariadb-dump,
 * SQLite's backup API, Redis replication, any command). Kinds register here by
 * name with a zod schema for their options.
 */
import type { ComponentKind } from './source.js';
import { filesKind } from './files/files.js';
import { postgresKind } from './postgres/postgres.js';
import { mysqlKind } from './mysql/mysql.js';
import { sqliteKind } from './sqlite/sqlite.js';
import { redisKind } from './redis/redis.js';
import { commandKind } from './command/command.js';
import { kubernetesKind } from './kubernetes/kubernetes.js';

export * from './source.js';
export { preloadSecrets, resolveSecret, safeUrl, secretRefSchema, type SecretRef } from './secrets.js';
export { toolVersion, majorOf, spawnConsumer } from './tools.js';
export { DEFAULT_VOLUME_ROOTS } from './kubernetes/kubernetes.js';
export { sweepDrillLeftovers } from './throwaway.js';

export const componentKinds = ['files', 'postgres', 'mysql', 'sqlite', 'redis', 'command', 'kubernetes'] as const;
export type ComponentKindName = (typeof componentKinds)[number];

export const kinds: Record<ComponentKindName, ComponentKind<never>> = {
  files: filesKind as ComponentKind<never>,
  postgres: postgresKind as ComponentKind<never>,
  mysql: mysqlKind as ComponentKind<never>,
  sqlite: sqliteKind as ComponentKind<never>,
  redis: redisKind as ComponentKind<never>,
  command: commandKind as ComponentKind<never>,
  kubernetes: kubernetesKind as ComponentKind<never>,
};

export const kindSchemas = Object.fromEntries(componentKinds.map((k) => [k, kinds[k].schema])) as unknown as Record<ComponentKindName, z.ZodType>;
