/**
 * The oracle's Prometheus metrics, served at /metrics on the internal listener only.
 *
 * Counters move as work happens in this process (requests, callbacks decided, Daraja
 * calls, chain transactions). Gauges about the ledger are read at scrape time from the
 * oracle's own tables — one SQL round trip over partial indexes, plus one RPC call for the
 * nonce — so they are the same whichever oracle instance is scraped.
 */
import type { Pool } from 'pg';
import { Counter, createRegistry, DURATION_BUCKETS, Gauge, Histogram, type Logger, type Registry } from '@descrow/common';
import type { EscrowChain } from './chain/escrow';
import { JOBS } from './jobs/isolation';

/** Non-final states, always reported (0 when empty) so an alert never waits on a missing series. */
const OPEN_PAYMENT_STATES = ['creating', 'pending'] as const;
const OPEN_PAYOUT_STATES = ['queued', 'sent', 'unknown', 'needs_attention', 'overpaid'] as const;
const OUTBOX_STATES = ['pending', 'sent', 'failed'] as const;

interface SnapshotRow { metric: string; label: string | null; n: number; age: number | null }
interface Snapshot { rows: SnapshotRow[]; chainNonce: number | null }

/** One round trip: every ledger figure a scrape reports. */
const SNAPSHOT_SQL = `
  SELECT 'payment' AS metric, status AS label, count(*)::float8 AS n, extract(epoch FROM now() - min(created_at))::float8 AS age
    FROM oracle.payment_requests WHERE status IN ('creating','pending') GROUP BY status
  UNION ALL
  SELECT 'payment_unrecorded', NULL, count(*)::float8, extract(epoch FROM now() - min(paid_at))::float8
    FROM oracle.payment_requests WHERE status = 'paid' AND settled_at IS NULL
  UNION ALL
  SELECT 'payout', status, count(*)::float8, extract(epoch FROM now() - min(created_at))::float8
    FROM oracle.payouts WHERE status IN ('queued','sent','unknown','needs_attention','overpaid') GROUP BY status
  UNION ALL
  SELECT 'outbox', status, count(*)::float8, extract(epoch FROM now() - min(created_at))::float8
    FROM oracle.outbox WHERE status IN ('pending','sent','failed') GROUP BY status
  UNION ALL
  SELECT 'refund_case', kind, count(*)::float8, extract(epoch FROM now() - min(created_at))::float8
    FROM oracle.refund_cases WHERE status = 'open' GROUP BY kind
  UNION ALL
  SELECT 'reconciliation', NULL, jsonb_array_length(discrepancies)::float8, extract(epoch FROM now() - finished_at)::float8
    FROM (SELECT discrepancies, finished_at FROM oracle.reconciliation_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1) last
  UNION ALL
  SELECT 'discrepancy', d->>'kind', count(*)::float8, NULL
    FROM (SELECT discrepancies FROM oracle.reconciliation_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1) last,
         jsonb_array_elements(last.discrepancies) d GROUP BY d->>'kind'
  UNION ALL
  SELECT 'job_failing', job, count(*)::float8, extract(epoch FROM now() - min(first_failed_at))::float8
    FROM oracle.job_item_failures GROUP BY job
  UNION ALL
  SELECT 'nonce', NULL, nonce::float8, NULL FROM oracle.outbox WHERE status = 'sent' AND nonce IS NOT NULL`;

/**
 * Nonces the chain writer skipped: between the account's next nonce on chain and the
 * highest nonce of a transaction still waiting, every nonce no waiting transaction holds.
 * A gap stops every later transaction from being mined.
 */
export function nonceGaps(chainNonce: number, waiting: number[]): number {
  const held = new Set(waiting.filter((n) => n >= chainNonce));
  if (!held.size) return 0;
  const top = Math.max(...held);
  return top - chainNonce + 1 - held.size;
}

export class OracleMetrics {
  readonly registry: Registry = createRegistry('oracle');
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly callbacks: Counter<'kind' | 'outcome'>;
  readonly daraja: Counter<'endpoint' | 'result'>;
  readonly chainTransactions: Counter<'function' | 'result'>;
  readonly jobItemFailures: Counter<'job'>;
  private pool?: Pool;
  private chain?: EscrowChain;
  private log?: Logger;
  private snapshot: { at: number; value: Promise<Snapshot> } | null = null;

  constructor() {
    const registers = [this.registry];
    this.httpDuration = new Histogram({
      name: 'descrow_oracle_http_request_duration_seconds', help: 'HTTP requests to the oracle by route pattern (callbacks, internal API), method and status',
      labelNames: ['method', 'route', 'status'], buckets: DURATION_BUCKETS, registers,
    });
    this.callbacks = new Counter({
      name: 'descrow_oracle_callbacks_total', help: "Daraja callbacks decided, by kind and outcome (the callbacks table's outcome column)",
      labelNames: ['kind', 'outcome'], registers,
    });
    this.daraja = new Counter({
      name: 'descrow_oracle_daraja_requests_total', help: 'Calls to Daraja by endpoint (stk_push, stk_query, b2c, transaction_status, …) and result (ok, or the error kind)',
      labelNames: ['endpoint', 'result'], registers,
    });
    this.chainTransactions = new Counter({
      name: 'descrow_oracle_chain_transactions_total', help: 'Chain transactions the outbox writer broadcast, by contract function and result (sent, broadcast_failed)',
      labelNames: ['function', 'result'], registers,
    });
    this.jobItemFailures = new Counter({
      name: 'descrow_oracle_job_item_failures_total', help: 'Callbacks and job items (or whole job steps) that threw, by job: each is recorded with the item, retried with backoff, and the rest of the pass goes on',
      labelNames: ['job'], registers,
    });
    for (const job of JOBS) this.jobItemFailures.inc({ job }, 0); // every series exists from the start, for rate()

    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: Snapshot) => void) =>
      new Gauge({
        name, help, labelNames, registers,
        collect: async function (this: Gauge<string>) {
          const s = await self.read();
          this.reset();
          // A figure not known this scrape is absent, not 0 (prom-client keeps a 0 for a label-less gauge).
          if (!labelNames.length) this.remove();
          if (s) fill(this, s);
        },
      });
    const rows = (s: Snapshot, metric: string) => s.rows.filter((r) => r.metric === metric);
    const byLabel = (g: Gauge<string>, s: Snapshot, metric: string, label: string, states: readonly string[], field: 'n' | 'age') => {
      for (const st of states) g.set({ [label]: st }, 0);
      for (const r of rows(s, metric)) g.set({ [label]: r.label ?? '' }, (field === 'n' ? r.n : r.age) ?? 0);
    };
    gauge('descrow_oracle_payment_requests', 'STK payment requests not yet final (creating, pending), by status', ['status'], (g, s) => byLabel(g, s, 'payment', 'status', OPEN_PAYMENT_STATES, 'n'));
    gauge('descrow_oracle_payment_requests_oldest_age_seconds', 'Age of the oldest STK payment request in each non-final status (0 when none)', ['status'], (g, s) => byLabel(g, s, 'payment', 'status', OPEN_PAYMENT_STATES, 'age'));
    gauge('descrow_oracle_payments_unsettled', 'Paid requests whose order the chain does not yet show as settled (recorded and nothing owed)', [], (g, s) => g.set(rows(s, 'payment_unrecorded')[0]?.n ?? 0));
    gauge('descrow_oracle_payouts', 'B2C payouts not yet final (queued, sent, unknown) or waiting for a person (needs_attention, overpaid), by status', ['status'], (g, s) => byLabel(g, s, 'payout', 'status', OPEN_PAYOUT_STATES, 'n'));
    gauge('descrow_oracle_payouts_oldest_age_seconds', 'Age of the oldest B2C payout in each non-final status (0 when none)', ['status'], (g, s) => byLabel(g, s, 'payout', 'status', OPEN_PAYOUT_STATES, 'age'));
    gauge('descrow_oracle_outbox_rows', 'Outbox rows (chain records to write) by status: pending and sent are the backlog, failed needs a person', ['status'], (g, s) => byLabel(g, s, 'outbox', 'status', OUTBOX_STATES, 'n'));
    gauge('descrow_oracle_outbox_oldest_age_seconds', 'Age of the oldest outbox row in each status (0 when none)', ['status'], (g, s) => byLabel(g, s, 'outbox', 'status', OUTBOX_STATES, 'age'));
    gauge('descrow_oracle_refund_cases_open', 'Open refund-needed cases by kind', ['kind'], (g, s) => byLabel(g, s, 'refund_case', 'kind', [], 'n'));
    gauge('descrow_oracle_reconciliation_discrepancies', 'Discrepancies found by the latest finished reconciliation run, by kind', ['kind'], (g, s) => byLabel(g, s, 'discrepancy', 'kind', [], 'n'));
    gauge('descrow_oracle_reconciliation_discrepancies_count', 'All discrepancies of the latest finished reconciliation run (0 when none or no run yet)', [], (g, s) => g.set(rows(s, 'reconciliation')[0]?.n ?? 0));
    gauge('descrow_oracle_reconciliation_last_run_age_seconds', 'Seconds since the latest reconciliation run finished (absent before the first)', [], (g, s) => {
      const r = rows(s, 'reconciliation')[0];
      if (r) g.set(r.age ?? 0);
    });
    gauge('descrow_oracle_job_items_failing', 'Callbacks and job items failing right now (recorded in oracle.job_item_failures, waiting for a retry), by job', ['job'], (g, s) => byLabel(g, s, 'job_failing', 'job', JOBS, 'n'));
    gauge('descrow_oracle_job_items_failing_oldest_age_seconds', 'How long the longest-failing callback or job item has been failing, by job (0 when none)', ['job'], (g, s) => byLabel(g, s, 'job_failing', 'job', JOBS, 'age'));
    gauge('descrow_oracle_chain_up', '1 if the chain answered the scrape (the nonce read), else 0', [], (g, s) => g.set(s.chainNonce === null ? 0 : 1));
    gauge('descrow_oracle_chain_writer_nonce_gaps', "Nonces skipped below the chain writer's highest waiting transaction: each one blocks every later transaction (absent while the chain is unreachable)", [], (g, s) => {
      if (s.chainNonce !== null) g.set(nonceGaps(s.chainNonce, rows(s, 'nonce').map((r) => r.n)));
    });
  }

  /** The ledger gauges need the database and the chain; without them only counters are reported. */
  attach(pool: Pool, chain: EscrowChain, log: Logger): void {
    this.pool = pool;
    this.chain = chain;
    this.log = log;
  }

  /** One snapshot per scrape: every gauge's collect() shares it (reused for a second). */
  private read(): Promise<Snapshot | null> {
    if (!this.pool || !this.chain) return Promise.resolve(null);
    if (this.snapshot && Date.now() - this.snapshot.at < 1_000) return this.snapshot.value;
    const { pool, chain } = this;
    const value = (async () => {
      const [ledger, chainNonce] = await Promise.all([
        pool.query<SnapshotRow>(SNAPSHOT_SQL),
        Promise.race([
          chain.pub.getTransactionCount({ address: chain.account.address, blockTag: 'latest' }),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000).unref()),
        ]).catch((err: Error) => {
          this.log?.warn({ err: err.message.split('\n')[0] }, 'metrics: chain unreachable; nonce gaps not reported');
          return null;
        }),
      ]);
      return { rows: ledger.rows, chainNonce };
    })();
    this.snapshot = { at: Date.now(), value };
    value.catch(() => (this.snapshot = null));
    return value;
  }
}
