# syntax=docker/dockerfile:1
#
# Images of the two deployable binaries, from one build stage:
#
#   docker build --target chat -t chat-server:local .   # the chat server, port 8080
#   docker build --target bot  -t chat-bot:local .      # the stock bot, metrics on 9101
#
# Needs BuildKit (the default since Docker 23) for the cache mounts.
# The pages (www/), the API reference's renderer and the migrations (sql/)
# are compiled into `chat`.

ARG RUST_VERSION=1

# ---- build: both release binaries -------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
# npm: chat's build fetches the API reference page's renderer, pinned in
# www/api-docs/package-lock.json.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target/ live in cache mounts, so a rebuild after a source
# change only recompiles the workspace crates. A cache mount is gone after the
# RUN, hence the copy of the binaries out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p chat -p bot \
 && install -D -m 0755 target/release/chat /out/chat \
 && install -D -m 0755 target/release/bot /out/bot

# ---- runtime base: Debian slim, curl for the health checks, no root ---------
FROM debian:bookworm-slim AS runtime
# Unpinned: bookworm's security updates replace the exact versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
ENV LOG_FORMAT=json RUST_LOG=info

# ---- chat: HTTP + WebSocket + the page ---------------------------------------
# Needs DATABASE_URL and RABBITMQ_URL (see `docker run IMAGE --help`).
# /health/ready is 200 only while PostgreSQL and RabbitMQ answer.
FROM runtime AS chat
COPY --from=build /out/chat /usr/local/bin/chat
# mimalloc commits only the memory it uses: an idle server holds 14 MiB
# rather than 31, at no measured cost under load (docs/performance.md).
ENV CHAT_ADDR=0.0.0.0:8080 MIMALLOC_ARENA_EAGER_COMMIT=0
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/local/bin/chat"]

# ---- bot: the stock bot; /metrics and /health on 9101 ------------------------
# Needs RABBITMQ_URL. With BOT_METRICS_ADDR=off the health check cannot pass.
FROM runtime AS bot
COPY --from=build /out/bot /usr/local/bin/bot
ENV BOT_METRICS_ADDR=0.0.0.0:9101
EXPOSE 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9101/health"]
ENTRYPOINT ["/usr/local/bin/bot"]
