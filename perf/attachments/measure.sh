#!/usr/bin/env bash
# Upload and download throughput of one file, and the chat server's peak RSS
# before and after the upload (VmHWM): a streamed upload must not grow the
# server by the file's size.
#
#   perf/attachments/measure.sh [BINARY] [MiB]
#
# Starts BINARY (default target/release/chat) on 127.0.0.1:8095 with a fresh
# database, registers a user, uploads a file of MiB (default 10) of random
# bytes with curl, downloads it back, and prints the figures.
set -euo pipefail
binary="${1:-target/release/chat}"
mib="${2:-10}"
db="chat_attachments_perf_$$"
port=8095
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true;
      psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null; rm -rf "$work"' EXIT

CHAT_ADDR="127.0.0.1:$port" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
  COOKIE_SECURE=false SHUTDOWN_GRACE=0 RUST_LOG=warn MAX_UPLOAD_BYTES=$((mib * 1048576)) \
  MAX_USER_STORAGE_BYTES=$((mib * 4 * 1048576)) RATE_LIMIT_REGISTER=off RATE_LIMIT_LOGIN=off \
  "$binary" &
pid=$!
until curl -sf "$base/health" >/dev/null; do sleep 0.1; done

jar="$work/cookies"
curl -sf -o /dev/null -H 'content-type: application/json' \
  -d '{"username":"perf","password":"correct horse battery"}' "$base/api/v1/auth/register"
curl -sf -o /dev/null -c "$jar" -H 'content-type: application/json' \
  -d '{"username":"perf","password":"correct horse battery"}' "$base/api/v1/auth/login"
room=$(curl -sf -b "$jar" -H 'content-type: application/json' -d '{"name":"perf"}' \
  "$base/api/v1/chatrooms" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c $((mib * 1048576)) /dev/urandom > "$work/file.bin"

rss() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
# The peak since start (VmHWM) includes the password hash of the login, so
# the RSS is sampled every 5 ms while the file goes through.
sample() {
  local peak=0 now
  while [ ! -e "$work/done" ]; do
    now=$(rss VmRSS); [ "$now" -gt "$peak" ] && peak=$now
    echo "$peak" > "$work/peak"; sleep 0.005
  done
}
before_rss=$(rss VmRSS)
sample & sampler=$!
upload=$(curl -sf -b "$jar" -o "$work/message.json" -w '%{time_total} %{speed_upload}' \
  -H 'content-type: application/octet-stream' --data-binary @"$work/file.bin" \
  "$base/api/v1/chatrooms/$room/attachments?filename=file.bin")
touch "$work/done"; wait "$sampler"; upload_peak=$(cat "$work/peak"); rm "$work/done"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attachments"][0]["url"])' "$work/message.json")
before_download=$(rss VmRSS)
sample & sampler=$!
download=$(curl -sf -b "$jar" -o "$work/back.bin" -w '%{time_total} %{speed_download}' "$base$url")
touch "$work/done"; wait "$sampler"; download_peak=$(cat "$work/peak")
cmp -s "$work/file.bin" "$work/back.bin" || { echo "the download differs from the upload" >&2; exit 1; }

read -r up_s up_bps <<<"$upload"
read -r down_s down_bps <<<"$download"
mibps() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }
echo "file: $mib MiB"
echo "upload: ${up_s} s, $(mibps "$up_bps") MiB/s"
echo "download: ${down_s} s, $(mibps "$down_bps") MiB/s"
echo "server RSS before: $((before_rss / 1024)) MiB; peak during the upload:" \
     "$((upload_peak / 1024)) MiB (+$(( (upload_peak - before_rss) / 1024 )) MiB);" \
     "RSS before the download: $((before_download / 1024)) MiB; peak during it:" \
     "$((download_peak / 1024)) MiB (+$(( (download_peak - before_download) / 1024 )) MiB)"
