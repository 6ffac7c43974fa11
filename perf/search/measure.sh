#!/usr/bin/env bash
# Storing messages before and after search, alternating: BEFORE and AFTER
# are two chat binaries, LOADTEST the load tester (one that splits
# PostgreSQL's CPU by connection name, so indexing shows apart). For each run and build, on the build's
# own database, a new server and a fresh checkpointed table per workload:
#   fanout:  1,000 users / 10 rooms / 1,000 msg/s, 20 s
#   durable: 2,000 users / 1,000 rooms / 5,000 msg/s, 20 s, with PostgreSQL's
#            CPU per stored message and the floor measured in the same run.
# After each durable run of AFTER, index-floor.sh measures what indexing the
# words of the same messages costs at the least (beside this file).
# Output (JSON and the printed table) lands in OUT (default: beside this file);
# WORKLOADS picks some (default: durable), FIRST and RUNS number the runs.
set -euo pipefail
here=${OUT:-$(cd "$(dirname "$0")" && pwd)}
first=${FIRST:-1}
runs=${RUNS:-3}

for run in $(seq "$first" $((first + runs - 1))); do
  for build in before after; do
    binary=$([ "$build" = before ] && echo "$BEFORE" || echo "$AFTER")
    db=postgres://postgres@127.0.0.1:5432/chat_search_$build
    for workload in ${WORKLOADS:-durable}; do
      RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_MESSAGES=off RATE_LIMIT_STOCK=off RATE_LIMIT_ROOMS=off \
        RATE_LIMIT_HANDSHAKES=off MAX_CONNECTIONS_PER_IP=off COOKIE_SECURE=false LOG_FORMAT=json \
        SHUTDOWN_GRACE=0 RUST_LOG=warn DATABASE_URL=$db "$binary" >/dev/null 2>&1 &
      pid=$!
      until curl -sf http://127.0.0.1:8080/health/ready >/dev/null; do sleep 0.2; done
      psql -q "$db" -c 'TRUNCATE messages CASCADE' \
        -c "DO \$\$ BEGIN IF to_regclass('message_words') IS NOT NULL THEN TRUNCATE message_words; END IF; END \$\$" \
        -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
      out="$here/$workload-$build-$run"
      if [ "$workload" = fanout ]; then
        "$LOADTEST" run --users 1000 --rooms 10 --rate 1000 --duration 20 \
          --server-pid "$pid" --json "$out.json" > "$out.txt"
      else
        "$LOADTEST" run --users 2000 --rooms 1000 --rate 5000 --duration 20 \
          --server-pid "$pid" --database-url "$db" --db-floor --json "$out.json" > "$out.txt"
      fi
      kill "$pid"; wait "$pid" 2>/dev/null || true
      # The floor of indexing words, on the build that indexes, in the same run.
      if [ "$build" = after ] && [ "$workload" = durable ]; then
        DB=$db "$(dirname "$0")/index-floor.sh" > "$out-index-floor.txt"
      fi
    done
  done
done
