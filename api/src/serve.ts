/**
 * The API over HTTP: GraphQL (and /health) on the public listener, Prometheus /metrics on a
 * listener of its own (API_METRICS_HOST:API_METRICS_PORT, loopback by default; 0 = none).
 */
import { createServer, type Server } from 'node:http';
import { serveMetrics } from '@descrow/common';
import type { Api } from './app';
import type { ApiConfig } from './config';

export interface Listening { server: Server; metrics: Server | null; close(): Promise<void> }

export async function listen(api: Api, config: ApiConfig): Promise<Listening> {
  const server = createServer(api.yoga);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(config.API_PORT, config.API_HOST, ok));
  const metrics = config.API_METRICS_PORT ? await serveMetrics(api.deps.metrics.registry, config.API_METRICS_HOST, config.API_METRICS_PORT) : null;
  const closed = (s: Server | null) => new Promise<void>((r) => (s ? (s.closeAllConnections(), s.close(() => r())) : r()));
  return { server, metrics, close: async () => void (await Promise.all([closed(server), closed(metrics)])) };
}
