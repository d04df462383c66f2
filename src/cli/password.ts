import { readFileSync } from 'node:fs';
import { AppError, registerSecret } from '../kernel/index.js';

/** Reads a line from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new AppError('PASSWORD_REQUIRED', 'No password: set STRONGBOX_PASSWORD or use --password-file (no terminal to prompt on).');
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new AppError('CANCELLED', 'Cancelled.'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export interface PasswordSource {
  passwordFile?: string;
}

function fromFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `Cannot read the password file ${file}: ${(err as Error).message}.`, { cause: err });
  }
}

/** Password from --password-file, then STRONGBOX_PASSWORD, then STRONGBOX_PASSWORD_FILE, then a prompt on a terminal. */
export async function getPassword(src: PasswordSource, opts: { confirm?: boolean } = {}): Promise<string> {
  const pw = await readPassword(src, opts);
  registerSecret(pw);
  return pw;
}

async function readPassword(src: PasswordSource, opts: { confirm?: boolean }): Promise<string> {
  if (src.passwordFile) return fromFile(src.passwordFile);
  const env = process.env.STRONGBOX_PASSWORD;
  if (env !== undefined && env !== '') return env;
  if (process.env.STRONGBOX_PASSWORD_FILE) return fromFile(process.env.STRONGBOX_PASSWORD_FILE);
  const pw = await promptHidden('Repository password: ');
  if (opts.confirm) {
    const again = await promptHidden('Repeat the password: ');
    if (again !== pw) throw new AppError('INVALID_ARGUMENT', 'The passwords do not match; nothing was changed.');
  }
  return pw;
}

/** A new password for `repo key add|passwd`: --new-password-file, STRONGBOX_NEW_PASSWORD, or a prompt. */
export async function getNewPassword(file: string | undefined): Promise<string> {
  if (file) return fromFile(file);
  const env = process.env.STRONGBOX_NEW_PASSWORD;
  if (env !== undefined && env !== '') return env;
  const pw = await promptHidden('New password: ');
  const again = await promptHidden('Repeat the new password: ');
  if (again !== pw) throw new AppError('INVALID_ARGUMENT', 'The passwords do not match; nothing was changed.');
  return pw;
}
