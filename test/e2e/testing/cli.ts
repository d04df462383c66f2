import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAttributeSync, listAttributesSync } from 'fs-xattr';

/** Helpers for end-to-end tests: the real `strongbox` binary against real directories. */
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/strongbox.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const made: string[] = [];
// Every temporary tree goes when the test process ends: some hold hundreds of MiB.
process.once('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tmp(prefix = 'sb-e2e-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

let cache: string | undefined;
/** One cache directory for this test process (tests never touch the user's ~/.cache). */
function cacheDir(): string {
  cache ??= tmp('sb-cache-');
  return cache;
}

export class Cli {
  constructor(
    readonly repo: string,
    readonly password = 'correct horse battery staple',
  ) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, STRONGBOX_REPO: this.repo, STRONGBOX_PASSWORD: this.password, STRONGBOX_CACHE_DIR: cacheDir(), ...extra };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    return env;
  }

  run(args: string[], extra: NodeJS.ProcessEnv = {}): RunResult {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: this.env(extra), encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs and asserts exit 0, returning stdout. */
  ok(args: string[], extra: NodeJS.ProcessEnv = {}): string {
    const r = this.run(args, extra);
    if (r.code !== 0) throw new Error(`strongbox ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  json<T = Record<string, unknown>>(args: string[], extra: NodeJS.ProcessEnv = {}): T {
    return JSON.parse(this.ok([...args, '--json'], extra)) as T;
  }

  /** Like run, without blocking this process (needed when this process serves what the CLI talks to). */
  async runAsync(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    const r = await waitExit(this.spawn(args, extra));
    return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async okAsync(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<string> {
    const r = await this.runAsync(args, extra);
    if (r.code !== 0) throw new Error(`strongbox ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  spawn(args: string[], extra: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn(process.execPath, [BIN, ...args], { env: this.env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  }

  init(args: string[] = []): void {
    this.ok(['repo', 'init', ...args]);
  }
}

/** A CLI in its own instance home (ROOT/home), with no --repo: commands go through destinations. */
export function instanceCli(root: string, password?: string): Cli {
  const cli = new Cli('', password);
  const base = cli.env.bind(cli);
  cli.env = (extra = {}) => {
    const env = base({ STRONGBOX_HOME: path.join(root, 'home'), ...extra });
    delete env.STRONGBOX_REPO;
    if (password === undefined) delete env.STRONGBOX_PASSWORD;
    return env;
  };
  return cli;
}

/** A map of relative path → description (type, mode, size, content hash, link target) for comparing trees. */
export async function describeTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { createHash } = await import('node:crypto');
  const walk = async (dir: Buffer, rel: string) => {
    for (const name of (await fs.readdir(dir, { encoding: 'buffer' })).sort(Buffer.compare)) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = rel + '/' + name.toString('base64');
      const st = await fs.lstat(p, { bigint: true });
      const mode = (Number(st.mode) & 0o7777).toString(8) + xattrsOf(p);
      const mtime = (st.mtimeNs / 1000000n).toString();
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `link ${(await fs.readlink(p, { encoding: 'buffer' })).toString('base64')}`);
      else if (st.isFile()) out.set(r, `file ${mode} ${st.size} ${mtime} ${createHash('sha256').update(await fs.readFile(p)).digest('hex')}`);
      else if (st.isFIFO()) out.set(r, `fifo ${mode}`);
      else out.set(r, `other`);
    }
  };
  await walk(Buffer.from(root), '');
  return out;
}

function xattrsOf(p: Buffer): string {
  try {
    const path = p.toString('utf8');
    if (!Buffer.from(path).equals(p)) return '';
    return listAttributesSync(path)
      .sort()
      .map((n) => ` ${n}=${getAttributeSync(path, n).toString('base64')}`)
      .join('');
  } catch {
    return '';
  }
}

/** Allocated size in bytes (to tell whether a file is sparse). */
export function allocatedBytes(file: string): number {
  const r = spawnSync('stat', ['-c', '%b %B', file], { encoding: 'utf8' });
  const [blocks, size] = r.stdout.trim().split(' ').map(Number);
  return blocks! * size!;
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir).catch(() => undefined);
  return out.sort();
}

export function waitExit(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })));
}

export async function writeRandom(file: string, bytes: number, seed = 1): Promise<void> {
  const { createCipheriv, createHash } = await import('node:crypto');
  const c = createCipheriv('aes-256-ctr', createHash('sha256').update(String(seed)).digest(), Buffer.alloc(16));
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, 'w');
  for (let done = 0; done < bytes; done += 4 << 20) await fh.write(c.update(Buffer.alloc(Math.min(4 << 20, bytes - done))));
  await fh.close();
}

/** Polls a directory until `ready` holds for its (durable, non-temporary) files, or the time runs out. */
export async function waitForFiles(dir: string, ready: (files: string[]) => boolean, timeoutMs = 12_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (ready((await listFiles(dir)).filter((f) => !path.basename(f).startsWith('.tmp-')))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
