# The hub image. Build from the repository root: docker build -f images/hub.Dockerfile -t outpost-hub .
# Node 24 is the Node.js LTS line this is written against; bump NODE_VERSION with each new LTS.
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 falls back to a source build when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# What a user installs, and exactly what test/e2e/packed-install.test.ts runs: the packed project
# installed without devDependencies into an empty directory.
RUN npm run build && npm pack --pack-destination /tmp \
  && mkdir /app && cd /app && echo '{ "private": true }' > package.json \
  && npm install --omit=dev --no-audit --no-fund /tmp/outpost-*.tgz

FROM node:${NODE_VERSION}-bookworm-slim
# tini as PID 1: forwards SIGTERM to node (the hub drains on it) and reaps zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
  && groupadd -g 10001 outpost && useradd -u 10001 -g 10001 -M -d /var/lib/outpost outpost \
  && mkdir -p /var/lib/outpost && chown 10001:10001 /var/lib/outpost
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
ENV NODE_ENV=production OUTPOST_HUB_DATA_DIR=/var/lib/outpost
USER 10001:10001
EXPOSE 8080 7777
VOLUME /var/lib/outpost
ENTRYPOINT ["/usr/bin/tini", "--", "node", "node_modules/outpost/dist/hub/main.js"]
CMD ["--http-listen", "0.0.0.0:8080", "--grpc-listen", "0.0.0.0:7777"]
