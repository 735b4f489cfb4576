import type { FastifyInstance } from 'fastify';
import { parseBody } from '../errors';
import type { DarajaSimState } from '../state';
import { c2bRegisterSchema } from '../validation';
import { darajaRoute } from './daraja';

/**
 * C2B (Customer to Business): customers paying the Pay Bill from the M-Pesa menu. Daraja's
 * side is only the URL registration; payments themselves are made by customers (here:
 * `POST /__sim/c2b/pay`, control.ts). v1 and v2 take the same body.
 */
export function c2bRoutes(app: FastifyInstance, state: DarajaSimState) {
  for (const version of ['v1', 'v2']) {
    darajaRoute(app, state, {
      method: 'POST',
      url: `/mpesa/c2b/${version}/registerurl`,
      auth: true,
      handler: async (req) => state.c2bRegister(parseBody(c2bRegisterSchema, req.body)),
    });
  }
}
