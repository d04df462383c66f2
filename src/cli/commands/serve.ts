import { Command } from 'commander';
import { AppError } from '../../kernel/index.js';
import { parseSize } from '../render.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('Run the Strongbox server: the REST API (and console), scheduled and on-demand jobs, notifications')
    .option('--host <address>', 'address to listen on (env STRONGBOX_HOST)', process.env.STRONGBOX_HOST ?? '127.0.0.1')
    .option('--port <n>', 'port (env STRONGBOX_PORT)', process.env.STRONGBOX_PORT ?? '8080')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; env STRONGBOX_TLS_CERT)', process.env.STRONGBOX_TLS_CERT)
    .option('--tls-key <file>', '… and this private key (PEM; env STRONGBOX_TLS_KEY)', process.env.STRONGBOX_TLS_KEY)
    .option('--concurrency <n>', 'jobs that may run at once (one per application in any case)', '2')
    .option('--max-upload <size>', 'largest archive upload accepted (e.g. 64G)', '64G')
    .option('--job-retention <days>', 'days finished job records and their logs are kept', '90')
    .option('--log-level <level>', 'fatal, error, warn, info, debug (env STRONGBOX_LOG_LEVEL)', process.env.STRONGBOX_LOG_LEVEL ?? 'info')
    .addHelpText(
      'after',
      `
The server owns the instance in STRONGBOX_HOME (catalog, key, destinations, applications) and
needs nothing else: on a fresh machine it uses the embedded SQLite catalog. On its first start
it creates the user "admin" and prints a one-time password (or takes STRONGBOX_ADMIN_PASSWORD).
Logs are JSON lines on stdout (job ids included, secrets never); SIGTERM or Ctrl-C stops it
gracefully: running jobs are canceled at a safe point and their post hooks run.

Then, from anywhere:
  strongbox --server http://127.0.0.1:8080 --token TOKEN snapshot list   # or STRONGBOX_SERVER / STRONGBOX_TOKEN
  curl -H "Authorization: Bearer TOKEN" http://127.0.0.1:8080/api/jobs

Examples:
  strongbox serve
  strongbox serve --host 0.0.0.0 --port 8443 --tls-cert /etc/strongbox/cert.pem --tls-key /etc/strongbox/key.pem`,
    )
    .action(async (o: { host: string; port: string; tlsCert?: string; tlsKey?: string; concurrency: string; maxUpload: string; jobRetention: string; logLevel: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AppError('USAGE', `--port expects a port number, got "${o.port}".`);
      const concurrency = Number(o.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new AppError('USAGE', `--concurrency expects a whole number ≥ 1, got "${o.concurrency}".`);
      const jobRetentionDays = Number(o.jobRetention);
      if (!Number.isInteger(jobRetentionDays) || jobRetentionDays < 1) throw new AppError('USAGE', `--job-retention expects a whole number of days ≥ 1, got "${o.jobRetention}".`);
      // The server's libraries load only for this command, not for every CLI run.
      const { startServer } = await import('../../api/index.js');
      const server = await startServer({ host: o.host, port, concurrency, jobRetentionDays, maxUploadBytes: parseSize(o.maxUpload), logLevel: o.logLevel, ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}), ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}) });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = () => {
          if (stopping) process.exit(130);
          stopping = true;
          process.stderr.write('Stopping: canceling running jobs at a safe point (again to exit now)…\n');
          void server.close().then(resolve, resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
