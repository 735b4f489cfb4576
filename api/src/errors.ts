/**
 * Client-facing errors: a precise message and a code in `extensions`. Anything else a
 * resolver throws is masked by Yoga ("Unexpected error.") and logged with the request id.
 */
import { GraphQLError } from 'graphql';
import type { ZodError } from 'zod';

export type ErrorCode = 'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'RATE_LIMITED' | 'CONFLICT' | 'SERVICE_UNAVAILABLE';

export function fail(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): never {
  throw new GraphQLError(message, { extensions: { code, ...extra } });
}

export const badInput = (message: string, field?: string): never => fail('BAD_USER_INPUT', message, field ? { field } : {});
export const notFound = (what: string): never => fail('NOT_FOUND', `${what} not found`);
export const forbidden = (message: string): never => fail('FORBIDDEN', message);

export function fromZod(err: ZodError): never {
  const issue = err.issues[0]!;
  const field = issue.path.map(String).join('.');
  return badInput(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}
