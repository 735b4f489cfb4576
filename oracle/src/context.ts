import { createHmac } from 'node:crypto';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from '@descrow/common';
import type { EscrowChain } from './chain/escrow';
import type { OracleConfig } from './config';
import type { DarajaClient } from './daraja/client';
import type { OracleMetrics } from './metrics';

/** Everything a flow needs, injected so flows are testable with real parts in-process. */
export interface OracleContext {
  config: OracleConfig;
  pool: Pool;
  redis: Redis;
  daraja: DarajaClient;
  chain: EscrowChain;
  log: Logger;
  /** Prometheus counters and the ledger gauges (main.ts creates them; /metrics serves them). */
  metrics?: OracleMetrics;
  /** Called when new chain work was enqueued, so the outbox need not wait for its next tick. */
  wake?: () => void;
}

export type CallbackPath = 'stk' | 'b2c/result' | 'b2c/timeout' | 'status/result' | 'status/timeout';

/**
 * The secret path segment of one callback URL: an HMAC (keyed by ORACLE_CALLBACK_TOKEN) of
 * the callback kind and our own id for the request it answers. A leaked URL opens only
 * that one kind of callback for that one request; the key itself never leaves the process.
 */
export function callbackSecret(config: OracleConfig, kind: CallbackPath, ref: string): string {
  // Hex, not base64: Daraja refuses a callback URL containing "exe", "cmd", "sql", "query",
  // "mpesa", … anywhere, in any case, and random base64 spells them about once in a hundred
  // URLs (found by the simulation). Hex cannot spell any of them.
  return createHmac('sha256', config.ORACLE_CALLBACK_TOKEN).update(`${kind}:${ref}`).digest('hex').slice(0, 32);
}

/** `<public url>/hooks/<kind>/<secret>/<ref>`: `ref` is our id (payment request or payout). */
export function callbackUrl(config: OracleConfig, kind: CallbackPath, ref: string): string {
  return `${config.ORACLE_PUBLIC_URL.replace(/\/$/, '')}/hooks/${kind}/${callbackSecret(config, kind, ref)}/${ref}`;
}
