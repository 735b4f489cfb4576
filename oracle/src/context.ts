import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from '@descrow/common';
import type { EscrowChain } from './chain/escrow';
import type { OracleConfig } from './config';
import type { DarajaClient } from './daraja/client';

/** Everything a flow needs, injected so flows are testable with real parts in-process. */
export interface OracleContext {
  config: OracleConfig;
  pool: Pool;
  redis: Redis;
  daraja: DarajaClient;
  chain: EscrowChain;
  log: Logger;
  /** Called when new chain work was enqueued, so the outbox need not wait for its next tick. */
  wake?: () => void;
}

export function callbackUrl(config: OracleConfig, kind: 'stk' | 'b2c/result' | 'b2c/timeout' | 'status/result' | 'status/timeout'): string {
  return `${config.ORACLE_PUBLIC_URL.replace(/\/$/, '')}/hooks/${kind}/${config.ORACLE_CALLBACK_TOKEN}`;
}
