import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { errors, sendError, DarajaError } from '../errors';
import type { DarajaSimState } from '../state';

/**
 * Registers one Daraja API path: the gateway checks (injected faults, then the bearer
 * token) run in onRequest, before the body is even parsed, as at Apigee. A GET where
 * POST is required gets Daraja's confusing "Invalid Authentication Header".
 */
export function darajaRoute(
  app: FastifyInstance,
  state: DarajaSimState,
  route: { method: 'GET' | 'POST'; url: string; auth: boolean; handler: RouteHandlerMethod },
) {
  app.route({
    method: route.method,
    url: route.url,
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      const fault = state.takeFault(route.url);
      if (fault) return sendError(reply, fault);
      if (route.auth) {
        try {
          state.tokens.check(req.headers.authorization);
        } catch (err) {
          if (err instanceof DarajaError) return sendError(reply, err);
          throw err;
        }
      }
    },
    handler: route.handler,
  });
  const others = (['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const).filter((m) => m !== route.method);
  app.route({
    method: [...others],
    url: route.url,
    handler: async (req, reply) => sendError(reply, req.method === 'GET' ? errors.invalidAuthHeader() : errors.methodNotAllowed()),
  });
}
