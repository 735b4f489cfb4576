/**
 * Background work: callbacks not yet processed (e.g. after a crash), STK requests with
 * no answer, the chain outbox, payouts to queue, send and chase. One leader across
 * instances runs the jobs (advisory lock); every instance serves callbacks.
 *
 * Each job step, and each callback or item within it, runs on its own (isolation.ts): one
 * that throws is recorded with the item and retried later, and the pass goes on. Only the
 * database being unreachable stops a pass, and only that counts towards the give-up timer.
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
import { forEachItem, isDatabaseUnavailable, JOBS, runItem, WHOLE_JOB, type JobName } from './isolation';

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
        async (err: Error) => {
          // A pass stops only when the database is out of reach (items and steps are isolated);
          // an error of any other kind still gets a probe, so the timer runs for the database alone.
          const reachable = !isDatabaseUnavailable(err) && (await this.ctx.pool.query('SELECT 1').then(() => true, () => false));
          if (reachable) {
            this.failingSince = null;
            this.ctx.log.error({ err: err.message }, 'job pass failed with the database reachable; not giving up');
            return;
          }
          this.ctx.log.error({ err: err.message }, 'job pass failed: the database is unreachable');
          this.failingSince ??= Date.now();
          const giveUp = this.ctx.config.ORACLE_DB_GIVE_UP_SECONDS * 1000;
          if (giveUp > 0 && Date.now() - this.failingSince >= giveUp) {
            this.ctx.log.fatal({ err: err.message, failingForMs: Date.now() - this.failingSince }, 'the database has been unreachable for too long; giving up so the supervisor restarts the process');
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

  /** One pass of every job, in the order money flows; each step on its own. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (!(await this.leader.hold())) return;
      const { ctx } = this;
      await this.step('callback', async () => {
        for (const kind of ['stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout'] as const) {
          // Each stored callback on its own: one its processor cannot handle waits out its backoff, the others are decided.
          await forEachItem(ctx, 'callback', await unprocessed(ctx.pool, kind), (cb) => String(cb.id), (cb) =>
            kind === 'stk' ? processStkCallback(ctx, cb.id, cb.raw) : processPayoutCallback(ctx, cb.id, kind, cb.raw));
        }
      });
      await this.step('stk_poll', () => pollPendingRequests(ctx));
      await this.step('outbox', () => this.outbox.tick());
      await this.step('payout_queue', () => queueDuePayouts(ctx));
      await this.step('payout_send', () => sendQueuedPayouts(ctx));
      await this.step('payout_check', () => checkUnansweredPayouts(ctx));
      if (Date.now() - this.lastSweep >= 30_000) {
        this.lastSweep = Date.now();
        await this.step('refund_sweep', () => sweepRefundCases(ctx.pool)); // failed on-chain records become refund cases (reconcile sweeps too)
      }
      const pullEvery = ctx.config.ORACLE_PULL_INTERVAL_SECONDS * 1000;
      if (pullEvery > 0 && Date.now() - this.lastPull >= pullEvery) {
        this.lastPull = Date.now();
        await this.step('transaction_pull', () => pullTransactions(ctx));
      }
      const every = ctx.config.ORACLE_RECONCILE_INTERVAL_SECONDS * 1000;
      if (every > 0 && Date.now() - this.lastReconcile >= every) {
        this.lastReconcile = Date.now();
        await this.step('reconcile', () => reconcile(ctx));
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One job step on its own: if it throws (its listing query, the chain RPC it needs), the
   * failure is recorded and counted under the job and the next step runs. The step's
   * record is cleared by its next success.
   */
  private async step(job: JobName, fn: () => Promise<unknown>): Promise<void> {
    await runItem(this.ctx, job, WHOLE_JOB, fn, this.stepsFailing.has(job)).then((r) => {
      if (r.ok) this.stepsFailing.delete(job);
      else this.stepsFailing.add(job);
    });
  }
  /** Steps with a failure on record (so a healthy step costs no DELETE per pass). */
  private readonly stepsFailing = new Set<JobName>(JOBS);
}
