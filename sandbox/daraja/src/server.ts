import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '@descrow/common';
import { darajaSimConfig, type DarajaSimConfig } from './config';
import { DarajaError, errors, sendError } from './errors';
import { b2cRoutes } from './routes/b2c';
import { c2bRoutes } from './routes/c2b';
import { controlRoutes } from './routes/control';
import { oauthRoutes } from './routes/oauth';
import { pullRoutes } from './routes/pull';
import { statusRoutes } from './routes/status';
import { stkRoutes } from './routes/stk';
import { ControlError, DarajaSimState } from './state';
import { systemClock, type Clock } from './time';

export interface DarajaSimulator {
  app: FastifyInstance;
  state: DarajaSimState;
  /** Starts listening (port 0 = any free port); resolves to the base URL, e.g. http://127.0.0.1:4200. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops the server, pending timers and callback deliveries. */
  close(): Promise<void>;
}

/** Where Daraja gives a misleading error for a non-JSON Content-Type (docs/daraja.md §0). */
function misleadingContentTypeError(url: string): DarajaError {
  if (url.startsWith('/mpesa/b2c')) return errors.invalidField('InitiatorName');
  if (url.startsWith('/mpesa/transactionstatus')) return errors.invalidField('Initiator');
  return errors.invalidField('BusinessShortCode');
}

/**
 * A Daraja look-alike: Daraja's paths, bodies and error envelope, plus the /__sim
 * control API. `config` may be partial: the rest comes from the defaults.
 */
export function createDarajaSimulator(config: Partial<DarajaSimConfig> = {}, opts: { logger?: Logger; clock?: Clock } = {}): DarajaSimulator {
  const full = darajaSimConfig(config);
  const logger = opts.logger ?? createLogger('daraja-sim', full.LOG_LEVEL);
  const state = new DarajaSimState(full, logger, opts.clock ?? systemClock);
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  // JSON only: any other Content-Type must reach the error handler (Daraja's misleading error).
  app.removeContentTypeParser('text/plain');

  // Every request gets one log line, with the Daraja error code when there is one.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{"requestId"')) {
      (req as unknown as { darajaError?: string }).darajaError = (JSON.parse(payload) as { errorCode?: string }).errorCode;
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    logger.info(
      { method: req.method, url: req.url, status: reply.statusCode, errorCode: (req as unknown as { darajaError?: string }).darajaError, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const control = req.url.startsWith('/__sim');
    if (err instanceof DarajaError) return sendError(reply, err);
    if (err instanceof ControlError) return reply.code(err.status).send({ error: err.message });
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return control ? reply.code(415).send({ error: err.message }) : sendError(reply, misleadingContentTypeError(req.url));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Unparseable JSON, empty JSON body, body too large, ...
      return control ? reply.code(err.statusCode).send({ error: err.message }) : sendError(reply, errors.invalidPayload());
    }
    logger.error({ err, url: req.url }, 'unexpected error');
    return control ? reply.code(500).send({ error: 'internal error' }) : sendError(reply, errors.internal());
  });
  app.setNotFoundHandler((req, reply) =>
    req.url.startsWith('/__sim') ? reply.code(404).send({ error: `no control route ${req.method} ${req.url}` }) : sendError(reply, errors.notFound()),
  );

  oauthRoutes(app, state);
  stkRoutes(app, state);
  b2cRoutes(app, state);
  statusRoutes(app, state);
  pullRoutes(app, state);
  c2bRoutes(app, state);
  controlRoutes(app, state);

  return {
    app,
    state,
    async listen(port = full.DARAJA_SIM_PORT, host = full.DARAJA_SIM_HOST) {
      await app.listen({ port, host });
      const address = app.server.address() as AddressInfo;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      logger.info({ url, shortcode: full.MPESA_SHORTCODE, b2cShortcode: full.MPESA_B2C_SHORTCODE }, 'daraja simulator listening');
      return url;
    },
    async close() {
      await state.close();
      await app.close();
    },
  };
}
