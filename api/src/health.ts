/** GET /health: Postgres, Redis, the index's freshness against the chain head, the oracle. */
import { jsonRpc } from '@descrow/common';
import type { Deps } from './context';

type Check = { ok: boolean; ms: number; error?: string; [k: string]: unknown };

async function check(fn: () => Promise<Record<string, unknown> | void>): Promise<Check> {
  const t = Date.now();
  try {
    const extra = await Promise.race([fn(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000))]);
    return { ok: true, ms: Date.now() - t, ...(extra ?? {}) };
  } catch (err) {
    return { ok: false, ms: Date.now() - t, error: (err as Error).message.split('\n')[0] };
  }
}

export async function chainHead(rpcUrl: string): Promise<number> {
  const head = await jsonRpc<string | undefined>(rpcUrl, 'eth_blockNumber', [], 2_000);
  if (!head) throw new Error('no block number from RPC');
  return Number(head);
}

export async function healthReport(deps: Deps) {
  const [postgres, redis, index, oracle] = await Promise.all([
    check(async () => void (await deps.pool.query('SELECT 1'))),
    check(async () => void (await deps.redis.ping())),
    check(async () => {
      const [m, head] = await Promise.all([deps.index.metadata(), chainHead(deps.config.RPC_URL)]);
      const lag = Math.max(0, head - m.lastProcessedHeight);
      if (m.lastProcessedHeight < 0) throw new Error('the index has not processed any block yet');
      if (lag > deps.config.HEALTH_MAX_LAG_BLOCKS) throw new Error(`the index is ${lag} blocks behind the chain (${m.lastProcessedHeight} < ${head})`);
      return { lastProcessedHeight: m.lastProcessedHeight, chainHead: head, lagBlocks: lag };
    }),
    check(async () => {
      if (!(await deps.oracle.health())) throw new Error('the oracle reports itself unhealthy');
    }),
  ]);
  const checks = { postgres, redis, index, oracle };
  const ok = Object.values(checks).every((c) => c.ok);
  if (!ok) deps.log.warn({ checks }, 'unhealthy');
  // /health is public: it names the failing dependency; the error text goes to the log only.
  for (const c of Object.values(checks)) delete c.error;
  return { status: ok ? 'ok' : 'degraded', checks };
}
