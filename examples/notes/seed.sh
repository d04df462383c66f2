#!/bin/sh
# Seeds the example "notes" application with sample data:
#   a PostgreSQL database notes_example (on 127.0.0.1:5432), uploads under
#   /var/tmp/strongbox-example/notes, Redis session keys, a SQLite index.
# Usage: examples/notes/seed.sh [ROWS]   (default 20000 notes)
set -eu
rows=${1:-20000}
here=$(cd "$(dirname "$0")" && pwd)
home=/var/tmp/strongbox-example/notes
pg="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U ${PGUSER:-postgres}"

mkdir -p "$home/uploads/2026/11" "$home/uploads/cache"
cp "$here/notes-ctl" "$home/notes-ctl" && chmod +x "$home/notes-ctl"

$pg -d postgres -c "DROP DATABASE IF EXISTS notes_example" -c "CREATE DATABASE notes_example"
$pg -d notes_example <<SQL
CREATE TABLE users(id serial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE notes(id serial PRIMARY KEY, user_id int REFERENCES users(id), title text, body text, updated timestamptz DEFAULT now());
CREATE INDEX notes_user ON notes(user_id);
INSERT INTO users(email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 200) g;
INSERT INTO notes(user_id, title, body)
  SELECT 1 + g % 200, 'Note ' || g, repeat(md5(g::text) || ' ', 8 + g % 24) FROM generate_series(1, $rows) g;
SQL

i=1
while [ $i -le 20 ]; do
  head -c $((4096 * i)) /dev/urandom > "$home/uploads/2026/11/attachment-$i.bin"
  i=$((i + 1))
done
echo "scratch" > "$home/uploads/draft.tmp"
head -c 100000 /dev/urandom > "$home/uploads/cache/thumb.bin"

printf '{"version": 3, "terms": %s}\n' "$rows" > "$home/index.json"
rm -f "$home/search.db"
node -e "
const D = require('$here/../../node_modules/better-sqlite3');
const db = new D('$home/search.db'); db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE terms(term TEXT PRIMARY KEY, hits INTEGER)');
const ins = db.prepare('INSERT INTO terms VALUES (?, ?)');
db.transaction(() => { for (let i = 0; i < 5000; i++) ins.run('term' + i, i % 97); })();
db.close();"

for i in 1 2 3 4 5; do redis-cli -h 127.0.0.1 -p 6379 SET "notes:session:$i" "user$i" EX 86400 >/dev/null; done

echo "seeded notes: $rows notes in postgres://127.0.0.1:5432/notes_example, 20 uploads in $home/uploads, 5 sessions in Redis, $home/search.db"
