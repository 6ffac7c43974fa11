#!/bin/sh
# Starts the release chat for measurements: limits off, the load database.
pkill -x chat; while ss -ltn | grep -q ":8080 "; do sleep 0.2; done
cd "$(git rev-parse --show-toplevel)"
env RATE_LIMIT_LOGIN=off RATE_LIMIT_REGISTER=off RATE_LIMIT_MESSAGES=off RATE_LIMIT_STOCK=off \
  RATE_LIMIT_ROOMS=off RATE_LIMIT_HANDSHAKES=off RATE_LIMIT_UPLOADS=off MAX_CONNECTIONS_PER_IP=off \
  MAX_SOCKETS_PER_USER=off COOKIE_SECURE=false \
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_load "$@" ${CHAT_BIN:-target/release/chat} > "${OUT:-/tmp}/chat.log" 2>&1 &
sleep 2
pgrep -x chat
