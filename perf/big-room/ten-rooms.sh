#!/bin/sh
# ten-rooms.sh NAME: the fan-out and durable workloads once, on a fresh
# server (CHAT_BIN, default target/release/chat) and a fresh table each.
# Run from the repository root; figures go to $OUT (default /tmp).
name=$1
out=${OUT:-/tmp}
fresh() {
  psql -q postgres://postgres@127.0.0.1:5432/chat_load -c 'TRUNCATE messages CASCADE' \
    -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null 2>&1
  perf/big-room/start.sh >/dev/null
  sleep 20
}
fresh
target/release/loadtest run --users 1000 --rooms 10 --rate 1000 --duration 20 --prefix b \
  --server-pid "$(pgrep -x chat)" --compare-baseline --json "$out/$name-fanout.json" \
  > "$out/$name-fanout.txt" 2>&1
fresh
target/release/loadtest run --users 2000 --rooms 1000 --rate 5000 --duration 20 --prefix b \
  --server-pid "$(pgrep -x chat)" --database-url postgres://postgres@127.0.0.1:5432/chat_load \
  --json "$out/$name-durable.json" > "$out/$name-durable.txt" 2>&1
