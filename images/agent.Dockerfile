# The agent image (Linux; it schedules Windows step pods through the API, it does not run on Windows
# nodes). Build from the repository root: docker build -f images/agent.Dockerfile -t outpost-agent .
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
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
# tini as PID 1: forwards SIGTERM to node (the agent drains on it) and reaps the process groups a
# process pool's steps leave. sh, kill and sleep stay for the chart's preStop hook.
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates && rm -rf /var/lib/apt/lists/* \
  && groupadd -g 10001 outpost && useradd -u 10001 -g 10001 -M -d /var/lib/outpost-agent outpost \
  && mkdir -p /var/lib/outpost-agent && chown 10001:10001 /var/lib/outpost-agent
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
ENV NODE_ENV=production
USER 10001:10001
EXPOSE 9101
ENTRYPOINT ["/usr/bin/tini", "--", "node", "node_modules/outpost/dist/agent/main.js"]
