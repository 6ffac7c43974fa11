#!/usr/bin/env bash
# The floor of indexing words: what PostgreSQL spends to turn messages into
# `chat_words` and add them to a GIN index, with nothing else, in batches of
# BATCH (default 1,250: a quarter second of 5,000 msg/s) over N messages
# (default 100,000) shaped like the load tester's ("lt <nonce> <sender>
# <seq> <µs> x…", 64 bytes). Runs on DB (a chat database: it needs the
# `chat_words` configuration) in tables of its own, dropped after; prints
# the backend's CPU per message for: a plain copy, the words without an
# index, and the words with the GIN index.
set -euo pipefail
db=${DB:?a chat database URL}
n=${N:-100000}
batch=${BATCH:-1250}
psql -q "$db" <<SQL 2>/dev/null
DROP TABLE IF EXISTS floor_src, floor_copy, floor_words, floor_indexed;
CREATE TABLE floor_src (n int PRIMARY KEY, id uuid, room uuid, content text);
INSERT INTO floor_src
SELECT g, ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, gen_random_uuid(),
       rpad('lt 1a2b3c4d ' || (g % 2000) || ' ' || (g / 2000) || ' ' || (1765000000000000 + g * 200) || ' ', 64, 'x')
FROM generate_series(1, $n) g;
VACUUM ANALYZE floor_src;
CREATE TABLE floor_copy (message_id uuid PRIMARY KEY, chatroom_id uuid NOT NULL, words text NOT NULL);
CREATE TABLE floor_words (message_id uuid PRIMARY KEY, chatroom_id uuid NOT NULL, words tsvector NOT NULL);
CREATE TABLE floor_indexed (message_id uuid PRIMARY KEY, chatroom_id uuid NOT NULL, words tsvector NOT NULL);
CREATE INDEX ON floor_indexed USING gin (words);
SQL
hz=$(getconf CLK_TCK)
for table in floor_copy floor_words floor_indexed; do
  words=$([ "$table" = floor_copy ] && echo content || echo "to_tsvector('chat_words', content)")
  # One transaction per batch, as the indexer commits; the backend reads its
  # own CPU ticks from /proc before and after.
  psql -q "$db" <<SQL >/dev/null
\set ON_ERROR_STOP on
SELECT pg_backend_pid() AS pid \gset
\setenv FLOOR_PID :pid
\! awk '{print \$14 + \$15}' /proc/\$FLOOR_PID/stat > /tmp/floor-before
$(for b in $(seq 0 $(( n / batch - 1 ))); do
  echo "INSERT INTO $table SELECT id, room, $words FROM floor_src WHERE n > $((b * batch)) AND n <= $(((b + 1) * batch));"
done)
\! awk '{print \$14 + \$15}' /proc/\$FLOOR_PID/stat > /tmp/floor-after
SQL
  ticks=$(( $(cat /tmp/floor-after) - $(cat /tmp/floor-before) ))
  printf '%-14s %6.1f µs per message (backend CPU)\n' "$table" "$(echo "$ticks * 1000000 / $hz / $n" | bc -l)"
done
psql -q "$db" -c 'DROP TABLE floor_src, floor_copy, floor_words, floor_indexed'
rm -f /tmp/floor-before /tmp/floor-after
