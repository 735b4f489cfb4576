/**
 * The GraphQL API: `npm run api` (tsx api/src/main.ts). Applies the `app` migrations,
 * then serves http://localhost:4000/graphql (+ GET /health).
 */
import { createServer } from 'node:http';
import { createLogger, createPool, loadConfigOrExit, migrate } from '@descrow/common';
import { apiEnvShape, apiSafety } from './config';
import { createApi, MIGRATIONS_DIR } from './app';

async function main() {
  const config = loadConfigOrExit(apiEnvShape, process.env, apiSafety);
  const log = createLogger('api', config.LOG_LEVEL);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required (npm start provides the embedded Postgres)');
  const migrations = createPool(config.DATABASE_URL, 'descrow-api-migrate', { max: 1 });
  const { applied } = await migrate(migrations, 'app', MIGRATIONS_DIR);
  await migrations.end();
  if (applied.length) log.info({ applied }, 'app migrations applied');
  const api = createApi(config, { log });
  await api.start();
  const server = createServer(api.yoga);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(config.API_PORT, config.API_HOST, r));
  log.info({ url: `http://localhost:${config.API_PORT}/graphql` }, 'api ready');
  const shutdown = async () => {
    server.close();
    await api.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: Error) => {
  process.stderr.write(`api: ${err.message}\n`);
  process.exit(1);
});
