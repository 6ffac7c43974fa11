#!/usr/bin/env bash
# Fan-out before and after, alternating: BEFORE and AFTER are two chat
# binaries, LOADTEST the load tester; each build on its own database, a new
# server and a fresh checkpointed table per run. JSON lands beside this file
# (or in OUT).
set -euo pipefail
here=${OUT:-$(cd "$(dirname "$0")" && pwd)}
first=${FIRST:-1}
runs=${RUNS:-3}
for run in $(seq "$first" $((first + runs - 1))); do
  for build in before after; do
    binary=$([ "$build" = before ] && echo "$BEFORE" || echo "$AFTER")
    db=postgres://postgres@127.0.0.1:5432/chat_load_$build
    RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_MESSAGES=off RATE_LIMIT_STOCK=off \
      RATE_LIMIT_HANDSHAKES=off MAX_CONNECTIONS_PER_IP=off COOKIE_SECURE=false LOG_FORMAT=json \
      RUST_LOG=warn DATABASE_URL=$db "$binary" >/dev/null 2>&1 &
    pid=$!
    until curl -sf http://127.0.0.1:8080/health/ready >/dev/null; do sleep 0.2; done
    psql -q "$db" -c 'TRUNCATE messages CASCADE' -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
    "$LOADTEST" run --users 1000 --rooms 10 --rate 1000 --duration 20 \
      --server-pid "$pid" --json "$here/$build-$run.json" > "$here/$build-$run.txt"
    kill "$pid"; wait "$pid" || true
  done
done
