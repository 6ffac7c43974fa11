#!/bin/sh
# Run from the repository root; figures go to $OUT (default /tmp).
# run.sh NAME USERS RATE [extra loadtest args]: fresh server, fresh table, one run beside the bare baseline.
name=$1; users=$2; rate=$3; shift 3
psql -q postgres://postgres@127.0.0.1:5432/chat_load -c 'TRUNCATE messages CASCADE' -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null 2>&1
perf/big-room/start.sh >/dev/null
sleep 20   # past the start-up hash's purge
cd "$(git rev-parse --show-toplevel)"
curl -s 127.0.0.1:8080/metrics | grep -E '^room_writer_insert_seconds_(bucket|count)' > "${OUT:-/tmp}"/$name.metrics-before
target/release/loadtest run --users $users --rooms 1 --rate $rate --duration 20 --prefix b \
  --server-pid "$(pgrep -x chat)" --compare-baseline --json "${OUT:-/tmp}"/$name.json "$@" > "${OUT:-/tmp}"/$name.txt 2> "${OUT:-/tmp}"/$name.err
curl -s 127.0.0.1:8080/metrics | grep -E '^room_writer_insert_seconds_(bucket|count)' > "${OUT:-/tmp}"/$name.metrics-after
echo done > "${OUT:-/tmp}"/$name.done
