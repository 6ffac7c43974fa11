#!/bin/sh
# idle.sh LABEL [ENV=..]: RSS of an idle server after 30 s, on port 8090.
label=$1; shift
env CHAT_ADDR=127.0.0.1:8090 DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_load "$@" "${CHAT_IDLE:-target/release/chat}" > "${OUT:-/tmp}"/idle-$label.log 2>&1 &
pid=$!
sleep 30
echo "$label: $(grep -E 'VmRSS|RssAnon|RssFile' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
kill $pid; wait $pid 2>/dev/null
