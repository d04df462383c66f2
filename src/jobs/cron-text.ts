/**
 * A cron expression in words, for the common shapes; anything else is shown
 * as the expression itself (the next run times say the rest).
 */
export function describeCron(cron: string, timezone: string): string {
  const f = cron.trim().split(/\s+/);
  const tz = ` (${timezone})`;
  const hasSeconds = f.length === 6;
  const [sec, min, hour, dom, mon, dow] = hasSeconds ? f : ['0', ...f];
  const two = (s: string) => s.padStart(2, '0');
  const num = (s: string | undefined) => s !== undefined && /^\d+$/.test(s);
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  if (hasSeconds && /^\*\/\d+$/.test(sec!) && min === '*' && hour === '*') return `every ${sec!.slice(2)} seconds`;
  if (sec === '0' && /^\*\/\d+$/.test(min!) && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `every ${min!.slice(2)} minutes`;
  if (sec === '0' && num(min) && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `every hour at minute ${min}`;
  if (sec === '0' && num(min) && /^\*\/\d+$/.test(hour!) && dom === '*' && mon === '*' && dow === '*') return `every ${hour!.slice(2)} hours at minute ${min}`;
  if (sec === '0' && num(min) && num(hour) && dom === '*' && mon === '*') {
    const at = `${two(hour!)}:${two(min!)}`;
    if (dow === '*') return `every day at ${at}${tz}`;
    if (num(dow)) return `every ${days[Number(dow) % 7]} at ${at}${tz}`;
    if (dow === '1-5') return `every weekday at ${at}${tz}`;
  }
  if (sec === '0' && num(min) && num(hour) && num(dom) && mon === '*' && dow === '*') return `on day ${dom} of every month at ${two(hour!)}:${two(min!)}${tz}`;
  return `at "${cron}"${tz}`;
}
