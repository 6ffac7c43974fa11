#!/usr/bin/env bash
# Search latency over a large history: CHAT (a chat binary) on a database of
# its own, one user who is a member of ROOMS rooms (default 100), N stored
# messages (default 1,000,000) spread over them, eight words each drawn from
# a 20,000-word vocabulary with a skewed (Zipf-like) frequency, indexed;
# then each query QUERIES times (default 200) over one keep-alive
# connection, and p50/p99 per query. Output lands in OUT (default: beside
# this file), latency.txt.
set -euo pipefail
here=${OUT:-$(cd "$(dirname "$0")" && pwd)}
n=${N:-1000000}
rooms=${ROOMS:-100}
queries=${QUERIES:-200}
db=postgres://postgres@127.0.0.1:5432/chat_search_latency
base=http://127.0.0.1:8080
psql -q postgres://postgres@127.0.0.1:5432/postgres -c 'DROP DATABASE IF EXISTS chat_search_latency'

RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_ROOMS=off COOKIE_SECURE=false \
  SHUTDOWN_GRACE=0 RUST_LOG=warn DATABASE_URL=$db "$CHAT" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf $base/health/ready >/dev/null; do sleep 0.2; done
jar=$(mktemp)
body='{"username":"searcher","password":"correct horse battery"}'
curl -sf -o /dev/null -H 'content-type: application/json' -d "$body" $base/api/v1/auth/register
curl -sf -o /dev/null -c "$jar" -H 'content-type: application/json' -d "$body" $base/api/v1/auth/login
for r in $(seq 1 "$rooms"); do
  curl -sf -o /dev/null -b "$jar" -H 'content-type: application/json' \
    -d "{\"name\":\"room $r\"}" $base/api/v1/chatrooms
done

# Word k of the vocabulary is "w<k>"; a word's rank is drawn as 20000^u
# (u uniform), so rank 1 is in about one message in ten and rank 20,000 in
# about one in a million; a few real words are placed at known frequencies.
echo "storing $n messages…"
time psql -q -v ON_ERROR_STOP=1 "$db" <<SQL
INSERT INTO messages (id, chatroom_id, user_id, username, content, is_bot, created_at, previous_at)
SELECT gen_random_uuid(), r.ids[1 + g % $rooms], u.id, u.username,
       (SELECT string_agg('w' || floor(power(20000, random()))::int, ' ')
        FROM generate_series(1, 8) WHERE g >= 0)
       || CASE WHEN g % 1000 = 0 THEN ' quarterly budget review'
               WHEN g % 100 = 0 THEN ' café meeting'
               ELSE '' END,
       false,
       timestamptz '2026-01-01' + (g / $rooms) * interval '1 second',
       CASE WHEN g / $rooms = 0 THEN '-infinity'
            ELSE timestamptz '2026-01-01' + (g / $rooms - 1) * interval '1 second' END
FROM generate_series(0, $n - 1) AS g
CROSS JOIN (SELECT array_agg(id ORDER BY created_at, id) AS ids FROM chatrooms) r
CROSS JOIN (SELECT id, username FROM users WHERE username = 'searcher') u;
INSERT INTO message_words (message_id, chatroom_id, words)
SELECT id, chatroom_id, to_tsvector('chat_words', content) FROM messages;
VACUUM ANALYZE;
SQL

out="$here/latency.txt"
{
  echo "$n messages in $rooms rooms; $queries searches per query, one connection"
  for q in w1 w50 w3000 cafe 'quarterly budget' '"budget review"' 'meeting -cafe' w19999; do
    encoded=$(jq -rn --arg q "$q" '$q | @uri')
    urls=()
    for _ in $(seq 1 "$queries"); do urls+=(-o /dev/null "$base/api/v1/search?q=$encoded&limit=20"); done
    curl -s -b "$jar" -w '%{time_total}\n' "${urls[@]}" | sort -n > "$here/times.txt"
    count=$(wc -l < "$here/times.txt")
    p50=$(sed -n "$(( (count + 1) / 2 ))p" "$here/times.txt")
    p99=$(sed -n "$(( (count * 99 + 99) / 100 ))p" "$here/times.txt")
    printf '%-20s p50 %6.1f ms   p99 %6.1f ms\n' "$q" "$(echo "$p50 * 1000" | bc -l)" "$(echo "$p99 * 1000" | bc -l)"
  done
} | tee "$out"
rm -f "$here/times.txt" "$jar"
