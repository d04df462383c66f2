import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { RdbKeyCounter } from '../../src/sources/redis/rdb-keys.js';
import { instanceCli, tmp } from './testing/cli.js';
import { startRedis } from './testing/servers.js';

// Keys per database are counted in the RDB as it passes (what a drill compares the restore with): every value
// type and encoding Redis 7 writes, however the stream is cut, and the same counts through a snapshot and a drill.

const FILL = `
for i = 1, 300 do redis.call('SET', 's:' .. i, string.rep('abc', 50 + i)) end
for i = 1, 50 do redis.call('SET', 'n:' .. i, i) end
redis.call('SET', 'big-int', '1234567890123')
redis.call('RPUSH', 'smalllist', 'a', 'b', 'c')
for i = 1, 3000 do redis.call('RPUSH', 'biglist', 'item' .. i .. string.rep('x', i % 90)) end
redis.call('SADD', 'intset', 1, 2, 3)
redis.call('SADD', 'smallset', 'a', 'b')
for i = 1, 1000 do redis.call('SADD', 'bigset', 'm' .. i) end
redis.call('ZADD', 'smallz', 1, 'a', 2.5, 'b')
for i = 1, 500 do redis.call('ZADD', 'bigz', i * 1.5, 'z' .. i) end
redis.call('HSET', 'smallh', 'f', 'v')
for i = 1, 1000 do redis.call('HSET', 'bigh', 'f' .. i, string.rep('v', i % 100)) end
for i = 1, 100 do redis.call('XADD', 'stream', '*', 'k', i) end
redis.call('PEXPIRE', 's:1', 100000000)
redis.call('EXPIRE', 'bigh', 100000)
return 'ok'
`;

function keyspace(info: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^(db\d+):keys=(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('redis: keys per database counted in the RDB stream, for every value type, however the stream is cut; recorded by a snapshot and compared by a drill', async () => {
  const redis = await startRedis();
  try {
    assert.equal(redis.cli('EVAL', FILL, '0'), '"ok"');
    redis.cli('XGROUP', 'CREATE', 'stream', 'g1', '0');
    redis.cli('XREADGROUP', 'GROUP', 'g1', 'c1', 'COUNT', '10', 'STREAMS', 'stream', '>');
    redis.cli('-n', '3', 'SET', 'other', 'db');
    redis.cli('-n', '3', 'HSET', 'h3', 'a', '1');
    const want = keyspace(redis.cli('INFO', 'keyspace'));
    assert.deepEqual([...want.keys()], ['db0', 'db3']);
    assert.equal(redis.cli('SAVE'), 'OK');
    const rdb = readFileSync(path.join(redis.dir, 'dump.rdb'));

    const whole = new RdbKeyCounter();
    whole.feed(rdb);
    assert.deepEqual(whole.result(), { counts: want });
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 700) + 1;
    for (let round = 0; round < 20; round++) {
      const c = new RdbKeyCounter();
      for (let at = 0; at < rdb.length; ) {
        const n = rand();
        c.feed(rdb.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(c.result(), { counts: want }, `round ${round}`);
    }
    // Cut short, or not an RDB: no counts, and why.
    const short = new RdbKeyCounter();
    short.feed(rdb.subarray(0, rdb.length - 20));
    assert.deepEqual(short.result(), { why: 'the RDB stream ended before its end marker' });
    const other = new RdbKeyCounter();
    other.feed(Buffer.from('PGDMP and so on'));
    assert.deepEqual(other.result(), { why: 'not an RDB (no REDIS header)' });

    // Through the product: the snapshot records the counts, a drill compares the restored server's with them.
    const root = tmp('sb-rdb-');
    const cli = instanceCli(root, 'rdb-test-password');
    cli.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init', '--password-from-env', 'STRONGBOX_PASSWORD']);
    const spec = path.join(root, 'cache.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(spec, `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: cache, version: "1" }\nspec:\n  components:\n    - name: kv\n      redis: { url: "${redis.url}" }\n`);
    cli.ok(['app', 'add', '-f', spec]);
    const snap = cli.json<{ id: string; applications: { components: { info: Record<string, unknown> }[] }[] }>(['snapshot', 'create', '--app', 'cache']);
    const info = snap.applications[0]!.components[0]!.info;
    assert.deepEqual({ db0: info['keys.db0'], db3: info['keys.db3'] }, { db0: want.get('db0'), db3: want.get('db3') });
    const drill = await cli.runAsync(['drill', 'run', '--app', 'cache', '--json']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const d = JSON.parse(drill.stdout) as { components: { checks: { name: string; ok: boolean; expected?: string; actual?: string }[] }[] };
    assert.deepEqual(
      d.components[0]!.checks.filter((c) => c.name.startsWith('keys')).map((c) => [c.name, c.ok, c.expected, c.actual]),
      [
        ['keys db0', true, String(want.get('db0')), String(want.get('db0'))],
        ['keys db3', true, '2', '2'],
      ],
    );
  } finally {
    await redis.stop();
  }
});
