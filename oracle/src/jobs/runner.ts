/**
 * Background work: callbacks not yet processed (e.g. after a crash), STK requests with
 * no answer, the chain outbox, payouts to queue, send and chase. One leader across
 * instances runs the jobs (advisory lock); every instance serves callbacks.
 */
import { HeldLock } from '../ledger/heldLock';
import type { OracleContext } from '../context';
import { unprocessed } from '../ledger/callbacks';
import { processStkCallback } from '../flows/stkCallback';
import { processPayoutCallback } from '../flows/b2cResult';
import { pollPendingRequests } from '../flows/stkPoller';
import { queueDuePayouts } from '../flows/payoutWatcher';
import { checkUnansweredPayouts, sendQueuedPayouts } from '../flows/payoutSender';
import { OutboxWorker } from '../chain/outboxWorker';
import { reconcile } from '../flows/reconcile';
import { pullTransactions } from '../flows/transactionPull';
import { sweepRefundCases } from '../ledger/refunds';

const LEADER_LOCK = 'descrow:oracle:jobs-leader';

export class JobRunner {
  readonly outbox: OutboxWorker;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private readonly leader: HeldLock;
  private failingSince: number | null = null;
  /** Called when the database stays unreachable past ORACLE_DB_GIVE_UP_SECONDS (main: exit, so the supervisor restarts us). */
  onUnrecoverable?: (reason: string) => void;
  private lastReconcile = Date.now();
  private lastPull = 0;
  private lastSweep = 0;

  constructor(private readonly ctx: OracleContext) {
    this.outbox = new OutboxWorker(ctx.pool, ctx.chain, ctx.log.child({ part: 'outbox' }), { metrics: ctx.metrics });
    this.leader = new HeldLock(ctx.pool, LEADER_LOCK, ctx.log, 'jobs');
    // Only the leader writes to the chain; a wake-up elsewhere waits for the leader's tick.
    ctx.wake = () => {
      if (this.leader.held && !this.stopped) this.outbox.tick().catch((err: Error) => ctx.log.error({ err: err.message }, 'outbox wake-up failed'));
    };
  }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.tick().then(
        () => (this.failingSince = null),
        (err: Error) => {
          this.ctx.log.error({ err: err.message }, 'job tick failed');
          this.failingSince ??= Date.now();
          const giveUp = this.ctx.config.ORACLE_DB_GIVE_UP_SECONDS * 1000;
          if (giveUp > 0 && Date.now() - this.failingSince >= giveUp) {
            this.ctx.log.fatal({ err: err.message, failingForMs: Date.now() - this.failingSince }, 'jobs have failed for too long; giving up so the supervisor restarts the process');
            this.onUnrecoverable?.(err.message);
          }
        },
      );
      if (!this.stopped) this.timer = setTimeout(loop, this.ctx.config.ORACLE_JOB_INTERVAL_MS);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    await this.outbox.release();
    await this.leader.release();
  }

  /** One pass of every job, in the order money flows. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (!(await this.leader.hold())) return;
      const { ctx } = this;
      for (const cb of await unprocessed(ctx.pool, 'stk')) await processStkCallback(ctx, cb.id, cb.raw);
      for (const kind of ['b2c_result', 'b2c_timeout', 'status_result', 'status_timeout'] as const) {
        for (const cb of await unprocessed(ctx.pool, kind)) await processPayoutCallback(ctx, cb.id, kind, cb.raw);
      }
      await pollPendingRequests(ctx);
      await this.outbox.tick();
      await queueDuePayouts(ctx);
      await sendQueuedPayouts(ctx);
      await checkUnansweredPayouts(ctx);
      if (Date.now() - this.lastSweep >= 30_000) {
        this.lastSweep = Date.now();
        await sweepRefundCases(ctx.pool); // failed on-chain records become refund cases (reconcile sweeps too)
      }
      const pullEvery = ctx.config.ORACLE_PULL_INTERVAL_SECONDS * 1000;
      if (pullEvery > 0 && Date.now() - this.lastPull >= pullEvery) {
        this.lastPull = Date.now();
        await pullTransactions(ctx);
      }
      const every = ctx.config.ORACLE_RECONCILE_INTERVAL_SECONDS * 1000;
      if (every > 0 && Date.now() - this.lastReconcile >= every) {
        this.lastReconcile = Date.now();
        await reconcile(ctx);
      }
    } finally {
      this.running = false;
    }
  }
}
