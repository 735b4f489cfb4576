import type { FastifyInstance } from 'fastify';
import { parseBody } from '../errors';
import { requestId } from '../ids';
import type { DarajaSimState } from '../state';
import { b2cSchema } from '../validation';
import { darajaRoute } from './daraja';

/**
 * B2C payment request (§4). v3: the caller owns OriginatorConversationID and reusing
 * it is refused. v1 (legacy): Daraja generates one.
 */
export function b2cRoutes(app: FastifyInstance, state: DarajaSimState) {
  darajaRoute(app, state, {
    method: 'POST',
    url: '/mpesa/b2c/v3/paymentrequest',
    auth: true,
    handler: async (req) => state.b2cPayment(parseBody(b2cSchema, req.body), 'v3'),
  });
  darajaRoute(app, state, {
    method: 'POST',
    url: '/mpesa/b2c/v1/paymentrequest',
    auth: true,
    handler: async (req) => {
      const body = req.body && typeof req.body === 'object' ? { ...(req.body as object), OriginatorConversationID: requestId() } : req.body;
      return state.b2cPayment(parseBody(b2cSchema, body), 'v1');
    },
  });
}
