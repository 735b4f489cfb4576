/**
 * The GraphQL API: `npm run api` (tsx api/src/main.ts). Applies the `app` migrations,
 * then serves http://localhost:4000/graphql (+ GET /health).
 */
import { ConfigError, createLogger, createPool, loadSafeConfigOrExit, startTracing } from '@descrow/common';
import { apiEnvShape, apiSafety } from './config';
import { createApi, MIGRATIONS_DIR } from './app';
import { listen } from './serve';
import { prepareDatabase, refuseAuditLogOwner } from './databaseRole';

async function main() {
  // Development is decided from the chain the RPC serves as well as the settings (common/src/safety.ts).
  const config = await loadSafeConfigOrExit(apiEnvShape, apiSafety);
  const log = createLogger('api', config.LOG_LEVEL);
  // Spans always get ids and travel in traceparent headers; they are exported only with an OTLP endpoint.
  const tracing = startTracing('descrow-api', { endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required (npm start provides the embedded Postgres)');
  const migrations = createPool(config.DATABASE_URL, 'descrow-api-migrate', { max: 1 });
  let applied: string[];
  try {
    applied = await prepareDatabase(migrations, MIGRATIONS_DIR);
    await refuseAuditLogOwner(migrations, config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  } finally {
    await migrations.end();
  }
  if (applied.length) log.info({ applied }, 'app migrations applied');
  const api = createApi(config, { log });
  await api.start();
  // Prometheus scrapes a listener of its own: the public port never serves /metrics.
  const http = await listen(api, config);
  log.info({ url: `http://localhost:${config.API_PORT}/graphql`, metrics: http.metrics ? `http://${config.API_METRICS_HOST}:${config.API_METRICS_PORT}/metrics` : 'off' }, 'api ready');
  const shutdown = async () => {
    await http.close();
    await tracing.shutdown();
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
