/**
 * Runs s3rver (an S3 API server in Node) for the tests, as its own process:
 * `node --openssl-legacy-provider dist/test/e2e/testing/s3-server.js DIR BUCKET…`
 * prints the port. s3rver encrypts list continuation tokens with DES, which
 * OpenSSL 3 keeps in its legacy provider.
 */
import S3rver from 's3rver';

const [dir, ...buckets] = process.argv.slice(2);
const server = new S3rver({ port: Number(process.env.S3_PORT ?? 0), address: '127.0.0.1', silent: true, directory: dir!, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
const addr = (await server.run()) as { port: number };
process.stdout.write(`PORT ${addr.port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
