#!/usr/bin/env bash
# Encrypted rooms, measured two ways, alternating, three runs each:
#   plain:   the plain rooms' hot path before and after encrypted rooms
#            (BEFORE and AFTER chat binaries): fan-out 1,000 users /
#            10 rooms / 1,000 msg/s, 20 s.
#   sealed:  on AFTER, the same workload in plain rooms and in encrypted
#            ones (loadtest --encrypted: sealed messages of the same text
#            size), with the server's CPU per delivery and PostgreSQL's CPU
#            per stored message.
# LOADTEST is the load tester; output (JSON and the printed table) lands in
# OUT (default: beside this file); PARTS picks some (default: plain sealed),
# FIRST and RUNS number the runs.
set -euo pipefail
here=${OUT:-$(cd "$(dirname "$0")" && pwd)}
first=${FIRST:-1}
runs=${RUNS:-3}

serve() { # binary database
  RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_MESSAGES=off RATE_LIMIT_STOCK=off RATE_LIMIT_ROOMS=off \
    RATE_LIMIT_HANDSHAKES=off MAX_CONNECTIONS_PER_IP=off MAX_SOCKETS_PER_USER=off COOKIE_SECURE=false \
    SHUTDOWN_GRACE=0 RUST_LOG=warn DATABASE_URL=$2 "$1" >/dev/null 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:8080/health/ready >/dev/null; do sleep 0.2; done
  psql -q "$2" -c 'TRUNCATE messages CASCADE' -c 'TRUNCATE message_words' -c 'VACUUM ANALYZE' -c 'CHECKPOINT' 2>/dev/null \
    || psql -q "$2" -c 'TRUNCATE messages CASCADE' -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
}

for run in $(seq "$first" $((first + runs - 1))); do
  for part in ${PARTS:-plain sealed}; do
    for side in a b; do
      if [ "$part" = plain ]; then
        build=$([ "$side" = a ] && echo before || echo after)
        binary=$([ "$side" = a ] && echo "$BEFORE" || echo "$AFTER")
        db=postgres://postgres@127.0.0.1:5432/chat_e2e_$build
        extra=(--prefix "p$side"); name=plain-$build
      else
        binary=$AFTER
        db=postgres://postgres@127.0.0.1:5432/chat_e2e_after
        if [ "$side" = a ]; then extra=(--prefix pb); name=rooms-plain
        else extra=(--prefix e --encrypted); name=rooms-encrypted; fi
      fi
      serve "$binary" "$db"
      "$LOADTEST" run --users 1000 --rooms 10 --rate 1000 --duration 20 "${extra[@]}" \
        --server-pid "$pid" --database-url "$db" --json "$here/$name-$run.json" > "$here/$name-$run.txt"
      kill "$pid"; wait "$pid" 2>/dev/null || true
    done
  done
done
