# syntax=docker/dockerfile:1
# Two images from one build:
# - `runtime` (descrow/app): the oracle, the API, the deployer, the Daraja simulator, the
#   compose preflight and the backup/restore scripts as compiled JavaScript (`npm run build`),
#   production dependencies only, user `node`.
# - `indexer` (descrow/indexer): the SubQuery node and query service exactly as the tests
#   run them: this lockfile's versions with the patches in patches/ applied.
# Node is pinned to the version CI tests on (.ci/run installs node@24.21.0 from npm).

# ---- dependencies: exactly the lockfiles, patches applied (a patch that fails stops the build)
FROM node:24.21.0-bookworm-slim AS deps
WORKDIR /app
ENV npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY common/package.json common/
COPY contracts/package.json contracts/
COPY sandbox/package.json sandbox/
COPY indexer/package.json indexer/
COPY oracle/package.json oracle/
COPY api/package.json api/
COPY console/package.json console/
COPY query/package.json query/package-lock.json query/
COPY patches/ patches/
RUN npm ci

# ---- build: contract artifact, indexer bundle, Prisma client, the services compiled to JS,
#      the web console built by Vite (build/console/dist, served by the API at /console)
FROM deps AS build
COPY . .
RUN npm run build:contracts \
 && npx tsx indexer/scripts/prepare.ts \
 && npx tsx api/scripts/generate.ts \
 && npx tsx scripts/build.ts

# ---- production dependencies only (no install scripts: patch-package and the query
#      service belong to the indexer image)
FROM node:24.21.0-bookworm-slim AS prod-deps
WORKDIR /app
ENV npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY common/package.json common/
COPY contracts/package.json contracts/
COPY sandbox/package.json sandbox/
COPY indexer/package.json indexer/
COPY oracle/package.json oracle/
COPY api/package.json api/
COPY console/package.json console/
RUN npm ci --omit=dev --ignore-scripts \
 && rm -rf node_modules/@descrow

# ---- indexer: the patched SubQuery node + query service (the node is a dev dependency of
#      the indexer workspace, so this image carries the build's node_modules)
FROM node:24.21.0-bookworm-slim AS indexer
ENV NODE_ENV=production TZ=UTC
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/query query
COPY --from=build /app/indexer/dist indexer/dist
COPY --from=build /app/contracts/artifacts contracts/artifacts
COPY --from=build /app/schema.graphql /app/package.json ./
COPY --from=build /app/build/scripts scripts
RUN mkdir -p /project /deploy && chown node:node /project /deploy
USER node
# docker-compose.yml runs four commands on it: the manifest step, the logs dictionary, the node, the query service.
CMD ["node", "scripts/compose-indexer-manifest.js", "/project"]

# ---- runtime: compiled services, production dependencies, non-root; files owned by root
FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production TZ=UTC
WORKDIR /app
# pg_dump/pg_restore for the backup scripts (compose's `backup` profile): the server's major, 15.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/build/ ./
COPY --from=build /app/package.json ./
COPY --from=build /app/oracle/migrations oracle/migrations
COPY --from=build /app/api/migrations api/migrations
COPY --from=build /app/api/src/schema api/src/schema
COPY --from=build /app/sandbox/daraja/certs sandbox/daraja/certs
# Writable places, for the volumes compose mounts there (a new volume takes this owner).
RUN mkdir -p /deploy /data/evidence /backups && chown -R node:node /deploy /data /backups
USER node
EXPOSE 4000 4100 4200
# The command is chosen per service in docker-compose.yml.
CMD ["node", "api/src/main.js"]
