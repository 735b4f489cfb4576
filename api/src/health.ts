/**
 * Health: Postgres, Redis, the index's freshness against the chain head, the oracle.
 * The full report (timings, lag, error text) is served on the private listener
 * (serve.ts, API_METRICS_HOST:API_METRICS_PORT/health); the public /health answers with
 * the last report's verdict, refreshed by at most one check per HEALTH_CACHE_MS however
 * many clients ask, so it costs nothing to call.
 */
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
  return { status: ok ? 'ok' : 'degraded', checkedAt: new Date().toISOString(), checks };
}

export interface PublicHealth { status: string; checkedAt: string; checks: Record<string, { ok: boolean }> }

/** The public /health: which dependency is down, from a report at most `maxAgeMs` old (one check in flight at a time). */
export class HealthSummary {
  private last: { at: number; report: PublicHealth } | null = null;
  private running: Promise<PublicHealth> | null = null;
  /** Full checks run so far (the tests count them). */
  runs = 0;

  constructor(private readonly deps: Deps, private readonly maxAgeMs: number, private readonly now = () => Date.now()) {}

  async current(): Promise<PublicHealth> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return this.last.report;
    this.running ??= (async () => {
      try {
        this.runs++;
        const full = await healthReport(this.deps);
        // Public: which dependency is down, never its error text or timings.
        const report: PublicHealth = { status: full.status, checkedAt: full.checkedAt, checks: Object.fromEntries(Object.entries(full.checks).map(([k, c]) => [k, { ok: c.ok }])) };
        this.last = { at: this.now(), report };
        return report;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
