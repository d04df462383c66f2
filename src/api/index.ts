/** The REST API: contract/ (schemas, roles, the error envelope) shared with the console and the CLI's remote mode; server/ (fastify); client/ (for the CLI). */
export * from './server/server.js';
export { ApiClient } from './client/client.js';
