/**
 * The API over HTTP: GraphQL (and the cheap /health) on the public listener; Prometheus
 * /metrics and the full /health report (each dependency's timing, lag and error text) on
 * a listener of its own (API_METRICS_HOST:API_METRICS_PORT, loopback by default; 0 = none),
 * which only operators and the scraper reach.
 */
import { createServer, type Server } from 'node:http';
import { metricsResponse } from '@descrow/common';
import type { Api } from './app';
import type { ApiConfig } from './config';
import { healthReport } from './health';

export interface Listening { server: Server; metrics: Server | null; close(): Promise<void> }

/** GET /metrics and GET /health (the deep check, uncached) on the private listener. */
async function servePrivate(api: Api, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      void metricsResponse(api.deps.metrics.registry).then((m) => res.writeHead(m.status, { 'content-type': m.contentType }).end(m.body));
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      void healthReport(api.deps).then((r) => res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r)));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, host, ok));
  return server;
}

export async function listen(api: Api, config: ApiConfig): Promise<Listening> {
  const server = createServer(api.yoga);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(config.API_PORT, config.API_HOST, ok));
  const metrics = config.API_METRICS_PORT ? await servePrivate(api, config.API_METRICS_HOST, config.API_METRICS_PORT) : null;
  const closed = (s: Server | null) => new Promise<void>((r) => (s ? (s.closeAllConnections(), s.close(() => r())) : r()));
  return { server, metrics, close: async () => void (await Promise.all([closed(server), closed(metrics)])) };
}
