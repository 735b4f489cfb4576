/**
 * The oracle's HTTP face: Daraja's callbacks (secret path token, optional IP allow-list,
 * body limit, store-then-acknowledge), the API's internal calls (service token), health.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { callbackSecret, type CallbackPath, type OracleContext } from '../context';
import { CallbackWriter, type CallbackKind } from '../ledger/callbacks';
import { initiateStk, stkRequestSchema } from '../flows/stkInitiate';
import { processStkCallback } from '../flows/stkCallback';
import { processPayoutCallback } from '../flows/b2cResult';
import { reconcile } from '../flows/reconcile';
import { clientAddress, safeEqual, unstorableBody } from './guards';
import { ledgerRoutes } from './ledgerApi';
import { payoutRoutes } from './payoutApi';
import { failpoint } from '../failpoints';
import { runItem } from '../jobs/isolation';
import { context, contextFrom, metricsResponse, REQUEST_ID_ATTRIBUTE, SpanKind, trace, type Span } from '@descrow/common';

const tracer = trace.getTracer('descrow-oracle');

const ACK = { ResultCode: 0, ResultDesc: 'Accepted' };

/** The URL for a log line: the route's pattern for callbacks (never their secret path segment). */
function loggableUrl(req: FastifyRequest): string {
  const pattern = req.routeOptions?.url;
  if (pattern?.startsWith('/hooks/')) return pattern;
  return req.url.replace(/\/hooks\/.*/, '/hooks/[redacted]');
}

/** Which listener an instance serves: Daraja's hooks on the public one, everything else on the internal one. */
export type Listener = 'public' | 'internal';

/**
 * The oracle's two HTTP servers, two Fastify instances with routes of their own. The
 * private routes (`/internal/*`, `/metrics`) are registered only on the internal one, so
 * no spelling of a path (percent-encoding, case, `//`, `..`, a trailing dot) can reach
 * them through the public port: there is nothing there for the router to decode into.
 */
export function buildServers(ctx: OracleContext): { publicApp: FastifyInstance; internalApp: FastifyInstance } {
  return { publicApp: buildServer(ctx, 'public'), internalApp: buildServer(ctx, 'internal') };
}

export function buildServer(ctx: OracleContext, listener: Listener): FastifyInstance {
  const { config, pool, log } = ctx;
  const app = Fastify({
    loggerInstance: log.child({ listener }),
    bodyLimit: config.ORACLE_CALLBACK_BODY_LIMIT,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 64 ? req.headers['x-request-id'] : randomUUID()),
    // We log each request ourselves (with its outcome), not Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    // The API keeps its connections to the internal listener open; outlive its idle timeout.
    ...(listener === 'internal' && { keepAliveTimeout: 65_000 }),
  });

  // A server span per request, continuing the caller's trace (the API's traceparent); it is
  // made active for the handler (preHandler, after the body is read) so Daraja calls join it.
  const spans = new WeakMap<FastifyRequest, Span>();
  const routeOf = (req: FastifyRequest) => req.routeOptions?.url ?? 'unmatched';
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.url === '/metrics' || req.url === '/health') return done();
    spans.set(req, tracer.startSpan(`${req.method} ${routeOf(req)}`, {
      kind: SpanKind.SERVER, attributes: { [REQUEST_ID_ATTRIBUTE]: req.id, 'http.request.method': req.method, 'http.route': routeOf(req) },
    }, contextFrom(req.headers)));
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const span = spans.get(req);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });

  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ method: req.method, url: loggableUrl(req), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    ctx.metrics?.httpDuration.observe({ method: req.method, route: routeOf(req), status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const span = spans.get(req);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      span.end();
    }
    done();
  });

  // Prometheus: the ledger's figures are not for the public.
  if (listener === 'internal') {
    app.get('/metrics', async (_req, reply) => {
      if (!ctx.metrics) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
      const m = await metricsResponse(ctx.metrics.registry);
      return reply.status(m.status).type(m.contentType).send(m.body);
    });
  }

  // Never a stack trace; a client's mistake is a 4xx with a precise message.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'unhandled error');
    const message = status === 413 ? 'request body too large' : status < 500 ? err.message : 'internal error';
    void reply.status(status).send({ error: { code: err.code ?? (status === 500 ? 'INTERNAL' : 'BAD_REQUEST'), message } });
  });
  app.setNotFoundHandler((_req, reply) => void reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } }));

  const routes = app as unknown as FastifyInstance;
  if (listener === 'public') callbackRoutes(routes, ctx);
  else internalRoutes(routes, ctx);

  // ---- health ------------------------------------------------------------------------
  app.get('/health', async (req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      const t = Date.now();
      try {
        await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000))]);
        return { ok: true, ms: Date.now() - t };
      } catch (err) {
        return { ok: false, ms: Date.now() - t, error: (err as Error).message.split('\n')[0] };
      }
    };
    const [postgres, redis, chain, daraja] = await Promise.all([
      check(() => pool.query('SELECT 1')),
      check(() => ctx.redis.ping()),
      check(() => ctx.chain.pub.getBlockNumber({ cacheTime: 0 })),
      check(() => ctx.daraja.tokens.get()),
    ]);
    const checks = { postgres, redis, chain, daraja };
    const ok = Object.values(checks).every((c) => c.ok);
    if (!ok) req.log.warn({ checks }, 'unhealthy');
    // The public answer names the failing dependency; the error text stays on the internal listener and in the log.
    if (listener === 'public') for (const c of Object.values(checks) as { error?: string }[]) delete c.error;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
  });

  return app as unknown as FastifyInstance;
}

/**
 * Daraja's callbacks, on the public listener only: `/hooks/<kind>/<secret>/<ref>`, where
 * `ref` is our own id (payment request or payout) and `secret` an HMAC of kind and ref
 * (context.ts), so one leaked URL opens nothing else.
 */
function callbackRoutes(app: FastifyInstance, ctx: OracleContext): void {
  const { config, pool, log } = ctx;
  const callbacks = new CallbackWriter(pool);
  const hook = (path: CallbackPath, kind: CallbackKind, correlate: (body: unknown) => string | null) => {
    const handler = async (req: FastifyRequest<{ Params: { token: string; ref: string } }>, reply: FastifyReply) => {
      const source = clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], config.ORACLE_TRUSTED_PROXIES);
      const ref = /^[0-9a-f-]{36}$/.test(req.params.ref) ? req.params.ref : null;
      if (!ref || !safeEqual(req.params.token, callbackSecret(config, path, ref))) {
        req.log.warn({ kind, source }, 'callback refused: wrong path secret');
        return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
      }
      if (config.ORACLE_CALLBACK_ALLOWED_IPS.length && !config.ORACLE_CALLBACK_ALLOWED_IPS.includes(source)) {
        req.log.warn({ kind, source }, 'callback refused: source address not allowed');
        return reply.status(403).send({ error: { code: 'FORBIDDEN', message: 'source not allowed' } });
      }
      // What Postgres cannot store (and Daraja never sends) is the client's mistake: a 400, not a 500.
      const unstorable = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? unstorableBody(req.body) : 'a callback is a JSON object';
      if (unstorable) return reply.status(400).send({ error: { code: 'INVALID_BODY', message: unstorable } });
      // The ref travels with the stored body, so the sweeper after a crash sees it too.
      const body = { ...(req.body as object), __ref: ref };
      const id = await callbacks.store(kind, body, source, correlate(req.body));
      failpoint('callback:after-store');
      // Acknowledge first; verification talks to Daraja and the chain and must not delay Daraja.
      // One that throws is recorded with its error and retried by the job with backoff (jobs/isolation.ts).
      setImmediate(() => {
        runItem(ctx, 'callback', String(id), () => (kind === 'stk' ? processStkCallback(ctx, id, body) : processPayoutCallback(ctx, id, kind, body)), false)
          .catch((err: Error) => log.error({ callbackId: id, err: err.message }, 'callback processing failed; the job will retry'));
      });
      return reply.status(200).send(ACK);
    };
    app.post(`/hooks/${path}/:token/:ref`, handler);
  };
  const get = (o: unknown, ...path: string[]): string | null => {
    let v: unknown = o;
    for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
    return typeof v === 'string' ? v : null;
  };
  hook('stk', 'stk', (b) => get(b, 'Body', 'stkCallback', 'CheckoutRequestID'));
  hook('b2c/result', 'b2c_result', (b) => get(b, 'Result', 'OriginatorConversationID'));
  hook('b2c/timeout', 'b2c_timeout', (b) => get(b, 'Result', 'OriginatorConversationID') ?? get(b, 'OriginatorConversationID'));
  hook('status/result', 'status_result', (b) => get(b, 'Result', 'OriginatorConversationID'));
  hook('status/timeout', 'status_timeout', (b) => get(b, 'Result', 'OriginatorConversationID') ?? get(b, 'OriginatorConversationID'));

}

/** The internal API (called by the GraphQL API, service token), on the internal listener only. */
function internalRoutes(app: FastifyInstance, ctx: OracleContext): void {
  const { config, pool } = ctx;
  app.register(async (internal) => {
    internal.addHook('onRequest', async (req, reply) => {
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!safeEqual(token, config.ORACLE_SERVICE_TOKEN)) return reply.status(401).send({ error: { code: 'UNAUTHENTICATED', message: 'service token required' } });
    });

    internal.post('/internal/stk', async (req, reply) => {
      const parsed = stkRequestSchema.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return reply.status(400).send({ error: { code: 'INVALID_INPUT', field: issue.path.join('.'), message: issue.message } });
      }
      const result = await initiateStk(ctx, parsed.data, { requestId: req.id });
      if (!result.ok) return reply.status(result.httpStatus).send({ error: { code: result.code, message: result.message } });
      return reply.status(result.reused ? 200 : 201).send(result);
    });

    ledgerRoutes(internal as unknown as FastifyInstance, ctx);
    payoutRoutes(internal as unknown as FastifyInstance, ctx);

    internal.get('/internal/reconciliation/latest', async () => {
      const { rows } = await pool.query(`SELECT * FROM oracle.reconciliation_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`);
      return rows[0] ?? null;
    });
    internal.post('/internal/reconciliation', async () => reconcile(ctx));

    // Callbacks and job items failing right now (jobs/isolation.ts): what the DescrowJobItemFailing alert points at.
    internal.get('/internal/job-failures', async () => {
      const { rows } = await pool.query(
        `SELECT job, item, attempts, last_error AS "lastError", first_failed_at AS "firstFailedAt", last_failed_at AS "lastFailedAt", run_at AS "retryAt"
           FROM oracle.job_item_failures ORDER BY first_failed_at`,
      );
      return { failures: rows };
    });

    internal.get('/internal/payments/:orderId', async (req: FastifyRequest<{ Params: { orderId: string } }>, reply) => {
      const orderId = z.string().regex(/^0x[0-9a-fA-F]{64}$/).safeParse(req.params.orderId);
      if (!orderId.success) return reply.status(400).send({ error: { code: 'INVALID_INPUT', field: 'orderId', message: 'expected a 32-byte hex order id' } });
      const id = orderId.data.toLowerCase();
      const payments = await pool.query(
        `SELECT id, status, checkout_request_id, mpesa_receipt, amount_kes, result_code, failure_reason, created_at, paid_at FROM oracle.payment_requests WHERE order_id=$1 ORDER BY created_at`,
        [id],
      );
      const payouts = await pool.query(
        `SELECT role, amount_kes, status, mpesa_receipt, reason, attempt, created_at, completed_at FROM oracle.payouts WHERE order_id=$1 ORDER BY created_at`,
        [id],
      );
      const outbox = await pool.query(`SELECT kind, status, tx_hash, last_error, confirmed_at FROM oracle.outbox WHERE order_id=$1 ORDER BY id`, [id]);
      return { orderId: id, payments: payments.rows, payouts: payouts.rows, chainRecords: outbox.rows };
    });
  });

}
