#!/usr/bin/env bash
# Starts the chat binary given on a fresh database (chat_flood, registration
# limit lifted), sends 200 registrations at once, times one login of an
# existing user meanwhile, and counts the registrations' answers
# (docs/performance.md). Usage: perf/abuse/registration-flood.sh target/release/chat
set -euo pipefail
bin=$1
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS chat_flood"
RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off COOKIE_SECURE=false RUST_LOG=warn \
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_flood "$bin" >/dev/null 2>&1 &
server=$!
trap 'kill "$server"' EXIT
until curl -fs -o /dev/null localhost:8080/health/ready; do sleep 0.2; done
register='{"username":"%s","password":"correct horse battery"}'
curl -s -o /dev/null -X POST -H 'content-type: application/json' \
  -d "$(printf "$register" real_user)" localhost:8080/api/v1/auth/register
codes=$(mktemp)
seq 1 200 | xargs -P 200 -I{} curl -s -o /dev/null -w "%{http_code}\n" -X POST \
  -H 'content-type: application/json' \
  -d "$(printf "$register" 'flood_{}')" localhost:8080/api/v1/auth/register >"$codes" &
flood=$!
sleep 0.5
curl -s -o /dev/null -w "login %{http_code} in %{time_total} s\n" -X POST \
  -H 'content-type: application/json' \
  -d "$(printf "$register" real_user)" localhost:8080/api/v1/auth/login
wait "$flood"
echo "registrations: $(sort "$codes" | uniq -c | tr -s ' \n' ' ')"
rm -f "$codes"
