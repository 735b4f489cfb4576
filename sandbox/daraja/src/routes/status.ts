import type { FastifyInstance } from 'fastify';
import { parseBody } from '../errors';
import type { DarajaSimState } from '../state';
import { transactionStatusSchema } from '../validation';
import { darajaRoute } from './daraja';

/** Transaction Status (§5): by receipt (TransactionID) or by OriginalConversationID. */
export function statusRoutes(app: FastifyInstance, state: DarajaSimState) {
  darajaRoute(app, state, {
    method: 'POST',
    url: '/mpesa/transactionstatus/v1/query',
    auth: true,
    handler: async (req) => state.transactionStatus(parseBody(transactionStatusSchema, req.body)),
  });
}
