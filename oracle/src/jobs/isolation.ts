/**
 * One poisoned item never stops the others (issue 24, point 4). Each callback and each job
 * item runs on its own: when it throws, the error is recorded with the item in
 * `oracle.job_item_failures` (attempts, last error, when to try again), counted in the
 * metrics, and the rest of the pass goes on. The item is tried again after a backoff with
 * jitter; a success clears the record.
 *
 * An error that says the database itself is unreachable is not the item's fault: it stops
 * the pass, and the runner's give-up timer (ORACLE_DB_GIVE_UP_SECONDS) decides.
 *
 * Shaped like a job queue's tasks (a job name, an item key, attempts, last_error, run_at),
 * so moving these jobs onto graphile-worker (issue 27) is one job per item keyed `job:item`.
 */
import { createTimeout } from 'retry';
import type { OracleContext } from '../context';

/** Every job whose items (or whole step, item '*') are isolated; the metrics report each, 0 when none fails. */
export const JOBS = [
  'callback', 'stk_poll', 'outbox', 'payout_queue', 'payout_send', 'payout_check', 'refund_sweep', 'transaction_pull', 'reconcile',
] as const;
export type JobName = (typeof JOBS)[number];

/** The whole step of a job (its listing query, or a job with no items of its own). */
export const WHOLE_JOB = '*';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '53300', '55000', '57P01', '57P02', '57P03']);
const CONNECTION_MESSAGES = /connection terminated|timeout exceeded when trying to connect|client has encountered a connection error|not queryable|cannot use a pool after calling end|connection (?:is )?(?:closed|lost)/i;

/**
 * Postgres is out of reach (refused, dropped, shutting down, not accepting connections):
 * the SQLSTATE class 08, 57P0x admin/crash shutdown, 53300 too many connections, 55000
 * "not currently accepting connections", the socket errors and node-postgres's own messages.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.startsWith('08') || CONNECTION_CODES.has(code)) return true;
  return typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message);
}

/**
 * How long after its `attempts`-th failure an item waits: exponential from
 * ORACLE_JOB_RETRY_FIRST_SECONDS, doubling, capped at ORACLE_JOB_RETRY_MAX_SECONDS, times a
 * random 1–2 (the `retry` package's formula, which p-retry uses too) so a batch of items
 * that failed together does not come back together.
 */
export function retryDelayMs(ctx: Pick<OracleContext, 'config'>, attempts: number): number {
  const { ORACLE_JOB_RETRY_FIRST_SECONDS: first, ORACLE_JOB_RETRY_MAX_SECONDS: max } = ctx.config;
  return createTimeout(Math.max(0, attempts - 1), { minTimeout: first * 1000, maxTimeout: Math.max(first, max) * 1000, factor: 2, randomize: true });
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 1000);

/** Records one failure of an item (durably, before anything else) and returns how many times it has failed. */
async function recordFailure(ctx: OracleContext, job: JobName, item: string, err: unknown): Promise<number> {
  const { rows } = await ctx.pool.query<{ attempts: number }>(
    `INSERT INTO oracle.job_item_failures (job, item, last_error, run_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (job, item) DO UPDATE SET attempts = job_item_failures.attempts + 1, last_error = EXCLUDED.last_error, last_failed_at = now()
     RETURNING attempts`,
    [job, item, message(err)],
  );
  const attempts = rows[0]!.attempts;
  // A whole step runs again every pass (its inputs change); an item waits out its backoff.
  const delayMs = item === WHOLE_JOB ? 0 : retryDelayMs(ctx, attempts);
  await ctx.pool.query(`UPDATE oracle.job_item_failures SET run_at = now() + make_interval(secs => $3::float8 / 1000) WHERE job=$1 AND item=$2`, [job, item, delayMs]);
  ctx.metrics?.jobItemFailures.inc({ job });
  // Once, then at every power of two: a step failing each second must not flood the log.
  if ((attempts & (attempts - 1)) === 0) {
    ctx.log.error({ job, item, attempts, err: message(err), retryInMs: delayMs }, item === WHOLE_JOB ? 'job step failed; the other jobs go on' : 'job item failed; it will be retried, the others go on');
  }
  return attempts;
}

async function clearFailure(ctx: OracleContext, job: JobName, item: string): Promise<void> {
  const r = await ctx.pool.query<{ attempts: number }>(`DELETE FROM oracle.job_item_failures WHERE job=$1 AND item=$2 RETURNING attempts`, [job, item]);
  if (r.rowCount) ctx.log.info({ job, item, failedAttempts: r.rows[0]!.attempts }, 'job item succeeded after failing');
}

/**
 * Runs `fn` for one item on its own. Returns `{ ok: true, value }`, or `{ ok: false }` when it
 * threw (recorded, counted, to be retried). Rethrows only when the database is unreachable.
 * `known`: whether the item has a failure on record (lets a batch skip a DELETE per item).
 */
export async function runItem<T>(ctx: OracleContext, job: JobName, item: string, fn: () => Promise<T>, known = true): Promise<{ ok: true; value: T } | { ok: false }> {
  let value: T;
  try {
    value = await fn();
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw err;
    await recordFailure(ctx, job, item, err);
    return { ok: false };
  }
  if (known) await clearFailure(ctx, job, item);
  return { ok: true, value };
}

/**
 * `fn` for each row on its own, in order, skipping rows still waiting out a backoff. Written
 * in place of `for (const row of rows) { … }` — `return` where the loop said `continue`.
 */
export async function forEachItem<R>(ctx: OracleContext, job: JobName, rows: readonly R[], key: (row: R) => string, fn: (row: R) => Promise<unknown>): Promise<void> {
  if (!rows.length) return;
  const { rows: failing } = await ctx.pool.query<{ item: string; waiting: boolean }>(
    `SELECT item, run_at > now() AS waiting FROM oracle.job_item_failures WHERE job=$1 AND item = ANY($2::text[])`,
    [job, rows.map(key)],
  );
  const onRecord = new Map(failing.map((f) => [f.item, f.waiting]));
  for (const row of rows) {
    const item = key(row);
    if (onRecord.get(item) === true) continue;
    await runItem(ctx, job, item, () => fn(row), onRecord.has(item));
  }
}

/** Items of `job` not to be tried before their backoff ends (for listing queries that page past them). */
export const IN_BACKOFF_SQL = (job: JobName, itemExpr: string) =>
  `EXISTS (SELECT 1 FROM oracle.job_item_failures f WHERE f.job = '${job}' AND f.item = ${itemExpr} AND f.run_at > now())`;
