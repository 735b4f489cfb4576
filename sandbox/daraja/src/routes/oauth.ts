import type { FastifyInstance } from 'fastify';
import type { DarajaSimState } from '../state';
import { darajaRoute } from './daraja';

/** GET /oauth/v1/generate?grant_type=client_credentials with Basic auth (docs/daraja.md §1). */
export function oauthRoutes(app: FastifyInstance, state: DarajaSimState) {
  darajaRoute(app, state, {
    method: 'GET',
    url: '/oauth/v1/generate',
    auth: false,
    handler: async (req) => {
      const query = req.query as Record<string, unknown>;
      return state.tokens.issue(req.headers.authorization, query.grant_type);
    },
  });
}
