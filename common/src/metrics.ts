/**
 * Prometheus metrics (prom-client): one registry per service with Node's process metrics
 * under `descrow_<service>_`, served as text on a listener that is never the public one.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Request durations: 5 ms … 10 s (GraphQL reads are milliseconds; Daraja round trips seconds). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry for one service, with the default process metrics (CPU, memory, event loop, GC) prefixed `descrow_<service>_`. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `descrow_${service}_` });
  return registry;
}

/** Answer one scrape: the registry's text exposition, or 500 naming the failure (never a stack). */
export async function metricsResponse(registry: Registry): Promise<{ status: number; contentType: string; body: string }> {
  try {
    return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
  } catch (err) {
    return { status: 500, contentType: 'text/plain', body: `metrics failed: ${(err as Error).message.split('\n')[0]}\n` };
  }
}

/** GET /metrics (and nothing else) on its own listener. Resolves once listening. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    void metricsResponse(registry).then((m) => res.writeHead(m.status, { 'content-type': m.contentType }).end(m.body));
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, host, ok));
  return server;
}

/**
 * A label whose values come from clients (GraphQL operation names): at most `max` distinct
 * values are kept, later ones are counted as `other`, so a client cannot grow the series without bound.
 */
export function boundedLabel(max: number, pattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/): (value: string | null | undefined, fallback: string) => string {
  const seen = new Set<string>();
  return (value, fallback) => {
    if (!value) return fallback;
    if (!pattern.test(value)) return 'other';
    if (seen.has(value)) return value;
    if (seen.size >= max) return 'other';
    seen.add(value);
    return value;
  };
}
