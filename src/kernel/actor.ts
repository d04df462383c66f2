import { userInfo } from 'node:os';

/** Who a command run on this machine acts as, for audit logs and pins: "local:USER". */
export function localActor(): string {
  let name = process.env.USER;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return `local:${name}`;
}
