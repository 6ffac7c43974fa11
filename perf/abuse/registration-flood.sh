#!/usr/bin/env bash
# A registration flood against a running chat binary, and one login timed meanwhile
# (docs/performance.md). Usage: perf/abuse/registration-flood.sh path/to/chat
# flood.sh BIN : 200 concurrent registrations, then time one login meanwhile
BIN=$1
pkill -x chat_before; pkill -x chat_after; pkill -x chat; sleep 0.7
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS chat_flood" 2>/dev/null
export RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off COOKIE_SECURE=false RUST_LOG=warn DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_flood
$BIN >/tmp/w/flood.log 2>&1 &
sleep 2
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{"username":"real_user","password":"correct horse battery"}' localhost:8080/api/v1/auth/register
seq 1 200 | xargs -P 200 -I{} curl -s -o /dev/null -w "%{http_code}\n" -X POST -H 'content-type: application/json' -d '{"username":"flood_{}","password":"correct horse battery"}' localhost:8080/api/v1/auth/register > /tmp/w/flood_codes.txt & FLOOD=$!
sleep 0.5
curl -s -o /dev/null -w "login %{http_code} in %{time_total} s\n" -X POST -H 'content-type: application/json' -d '{"username":"real_user","password":"correct horse battery"}' localhost:8080/api/v1/auth/login
wait $FLOOD
sort /tmp/w/flood_codes.txt | uniq -c | tr '\n' ' '; echo
