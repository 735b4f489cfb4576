import type { FastifyInstance } from 'fastify';
import { parseBody } from '../errors';
import type { DarajaSimState } from '../state';
import { stkPushSchema, stkQuerySchema } from '../validation';
import { darajaRoute } from './daraja';

/** M-Pesa Express: STK Push (§2) and STK Push Query (§3). */
export function stkRoutes(app: FastifyInstance, state: DarajaSimState) {
  darajaRoute(app, state, {
    method: 'POST',
    url: '/mpesa/stkpush/v1/processrequest',
    auth: true,
    handler: async (req) => state.stkPush(parseBody(stkPushSchema, req.body)),
  });
  darajaRoute(app, state, {
    method: 'POST',
    url: '/mpesa/stkpushquery/v1/query',
    auth: true,
    handler: async (req) => state.stkQuery(parseBody(stkQuerySchema, req.body)),
  });
}
