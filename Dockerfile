# syntax=docker/dockerfile:1
# One image for every Descrow service (oracle, API, Daraja simulator, deployer, indexer
# manifest); the SubQuery node and query service run SubQuery's published images.

# ---- dependencies: exactly the lockfiles ----------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY common/package.json common/
COPY contracts/package.json contracts/
COPY sandbox/package.json sandbox/
COPY indexer/package.json indexer/
COPY oracle/package.json oracle/
COPY api/package.json api/
COPY query/package.json query/package-lock.json query/
COPY patches/ patches/
RUN npm ci

# ---- build: contract artifact, indexer bundle, Prisma client --------------------------
FROM deps AS build
COPY . .
RUN npm run build:contracts \
 && npx tsx indexer/scripts/prepare.ts \
 && npx tsx api/scripts/generate.ts

# ---- runtime: non-root; services run TypeScript through tsx, as in development -------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production TZ=UTC
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 4000 4100 4200
# The command is chosen per service in docker-compose.yml.
CMD ["node_modules/.bin/tsx", "api/src/main.ts"]
