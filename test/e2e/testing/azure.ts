import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmp } from './cli.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/.bin/azurite-blob');

/** Azurite's fixed development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  endpoint: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts Azurite's blob service (Microsoft's Azure Storage emulator, from npm) on a free loopback port. */
export async function startAzurite(): Promise<Azurite> {
  const dir = tmp('sb-azurite-');
  const child = spawn(BIN, ['--silent', '--disableTelemetry', '--location', dir, '--blobHost', '127.0.0.1', '--blobPort', '0', '--loose', '--skipApiVersionCheck'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`azurite exited (${code}) before it listened: ${out}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
    env: { AZURE_STORAGE_KEY: AZURITE_KEY },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
