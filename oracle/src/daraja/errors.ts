import type { DarajaErrorEnvelope } from './schemas';

/**
 * Why a Daraja call did not give an answer we can use.
 * - retryable: nothing happened on Daraja's side; the same call may be sent again
 *   (rate limits, 5xx without effect, network errors before a response).
 * - indeterminate: it may or may not have taken effect (timeouts, STK "being processed").
 * - invalid_token: refresh the token once and retry once.
 * - final: Daraja refused this request; sending it again will not help.
 */
export type DarajaErrorKind = 'retryable' | 'indeterminate' | 'invalid_token' | 'final';

export class DarajaError extends Error {
  constructor(
    readonly kind: DarajaErrorKind,
    message: string,
    readonly httpStatus?: number,
    readonly errorCode?: string,
    readonly errorMessage?: string,
  ) {
    super(message);
    this.name = 'DarajaError';
  }
}

const INVALID_TOKEN = new Set(['404.001.03', '400.003.01', '401.002.01']);

/** Classify an HTTP answer that was not a success. Branch on code *and* message (§0). */
export function classifyEnvelope(status: number, env: DarajaErrorEnvelope, endpoint: string): DarajaError {
  const { errorCode: c, errorMessage: m } = env;
  const msg = `${endpoint}: ${c} ${m}`;
  if (INVALID_TOKEN.has(c) && /token/i.test(m)) return new DarajaError('invalid_token', msg, status, c, m);
  if (c === '500.003.02' || c === '500.003.03' || status === 429) return new DarajaError('retryable', msg, status, c, m);
  if (c === '500.001.1001' && /being processed/i.test(m)) return new DarajaError('indeterminate', msg, status, c, m);
  if (c === '500.001.1001' && /unable to lock subscriber/i.test(m)) return new DarajaError('retryable', msg, status, c, m);
  // "Wrong credentials", "Merchant does not exist": our configuration, not a passing fault.
  if (c === '500.001.1001') return new DarajaError('final', msg, status, c, m);
  if (c === '500.002.1001' && /duplicate/i.test(m)) return new DarajaError('final', msg, status, c, m);
  if (c === '500.002.1001' || c === '500.003.1001') return new DarajaError('retryable', msg, status, c, m);
  if (status >= 500) return new DarajaError('retryable', msg, status, c, m);
  return new DarajaError('final', msg, status, c, m);
}
