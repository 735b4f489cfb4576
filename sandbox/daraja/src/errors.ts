import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { requestId } from './ids';

/**
 * Daraja's synchronous error envelope `{requestId, errorCode, errorMessage}` (docs/daraja.md §0).
 * Every failure the simulator answers goes through here: never a stack trace.
 */
export class DarajaError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly errorMessage: string,
    readonly requestId?: string,
  ) {
    super(`${errorCode} ${errorMessage}`);
    this.name = 'DarajaError';
  }

  toBody() {
    return { requestId: this.requestId ?? requestId(), errorCode: this.errorCode, errorMessage: this.errorMessage };
  }
}

export const errors = {
  invalidField: (field: string) => new DarajaError(400, '400.002.02', `Bad Request - Invalid ${field}`),
  invalidPayload: () => new DarajaError(400, '400.002.05', 'Invalid request payload'),
  invalidAuthentication: () => new DarajaError(400, '400.008.01', 'Invalid Authentication passed'),
  invalidGrantType: () => new DarajaError(400, '400.008.02', 'Invalid grant type passed'),
  invalidToken: () => new DarajaError(404, '404.001.03', 'Invalid Access Token'),
  invalidAuthHeader: () => new DarajaError(404, '404.001.04', 'Invalid Authentication Header'),
  notFound: () => new DarajaError(404, '404.001.01', 'Resource not found'),
  methodNotAllowed: () => new DarajaError(405, '405.001', 'Method Not Allowed'),
  wrongCredentials: () => new DarajaError(500, '500.001.1001', 'Wrong credentials'),
  merchantMissing: () => new DarajaError(500, '500.001.1001', 'Merchant does not exist'),
  subscriberLocked: () =>
    new DarajaError(500, '500.001.1001', 'Unable to lock subscriber, a transaction is already in process for the current subscriber'),
  beingProcessed: (checkoutRequestId: string) =>
    new DarajaError(500, '500.001.1001', 'The transaction is being processed', checkoutRequestId),
  duplicateOriginator: () => new DarajaError(500, '500.002.1001', 'Duplicate OriginatorConversationID.'),
  internal: () => new DarajaError(500, '500.003.1001', 'Internal Server Error'),
};

/** Injectable gateway faults (Apigee policies) and their envelopes. */
export const FAULTS = {
  '500.003.02': 'Spike arrest violation. Allowed rate : 5ps',
  '500.003.03': 'Quota Violation',
  '500.003.1001': 'Internal Server Error',
  '500.002.1001': 'System internal error.',
} as const;
export type FaultCode = keyof typeof FAULTS;

export function sendError(reply: FastifyReply, err: DarajaError) {
  return reply.code(err.status).type('application/json').send(err.toBody());
}

/**
 * Runs a zod schema over a request body and turns the first issue into Daraja's
 * "Bad Request - Invalid <Field>" (zod reports issues in shape order, so the field
 * order of the schema is the order Daraja's checks run in).
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.invalidPayload();
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const field = result.error.issues[0]?.path[0];
  throw field === undefined ? errors.invalidPayload() : errors.invalidField(String(field));
}
