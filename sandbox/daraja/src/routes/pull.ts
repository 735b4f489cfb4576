import type { FastifyInstance } from 'fastify';
import { parseBody } from '../errors';
import type { DarajaSimState } from '../state';
import { pullQuerySchema, pullRegisterSchema } from '../validation';
import { darajaRoute } from './daraja';

/**
 * Transaction pull: the paybill's own record of the payments it received, queried by time
 * window and paged by OffSetValue. Registration (`/pulltransactions/v1/register`) is a
 * one-time setup per shortcode; the simulator accepts it but does not require it.
 */
export function pullRoutes(app: FastifyInstance, state: DarajaSimState) {
  darajaRoute(app, state, {
    method: 'POST',
    url: '/pulltransactions/v1/register',
    auth: true,
    handler: async (req) => state.pullRegister(parseBody(pullRegisterSchema, req.body)),
  });
  darajaRoute(app, state, {
    method: 'POST',
    url: '/pulltransactions/v1/query',
    auth: true,
    handler: async (req) => state.pullQuery(parseBody(pullQuerySchema, req.body)),
  });
}
