import type { Pool } from 'pg';
import { GroupCommit } from './batcher';
import { IN_BACKOFF_SQL } from '../jobs/isolation';

export type CallbackKind = 'stk' | 'b2c_result' | 'b2c_timeout' | 'status_result' | 'status_timeout';

interface NewCallback { kind: CallbackKind; raw: string; ip: string; corr: string | null }

/**
 * Stores callbacks exactly as received, grouped into multi-row INSERTs. This is the
 * durable step before we acknowledge: `store` resolves once the row is committed.
 */
export class CallbackWriter {
  private readonly batches: GroupCommit<NewCallback, string>;

  constructor(pool: Pool) {
    this.batches = new GroupCommit(async (batch) => {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO oracle.callbacks (kind, raw, source_ip, correlation_id)
         SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::text[]) RETURNING id`,
        [batch.map((b) => b.kind), batch.map((b) => b.raw), batch.map((b) => b.ip), batch.map((b) => b.corr)],
      );
      return rows.map((r) => r.id); // INSERT … SELECT unnest … RETURNING keeps input order
    });
  }

  store(kind: CallbackKind, raw: unknown, sourceIp: string, correlationId: string | null): Promise<string> {
    return this.batches.submit({ kind, raw: JSON.stringify(raw ?? null), ip: sourceIp, corr: correlationId });
  }
}

/**
 * Outcomes are written in batches too. Safe: deciding is idempotent, and a callback whose
 * outcome was lost in a crash is simply decided again by the sweeper after a restart.
 */
const outcomeWriters = new WeakMap<Pool, GroupCommit<{ id: string; outcome: string }, void>>();

export async function markProcessed(pool: Pool, id: string, outcome: string): Promise<void> {
  let w = outcomeWriters.get(pool);
  if (!w) {
    w = new GroupCommit<{ id: string; outcome: string }, void>(async (batch) => {
      await pool.query(
        `UPDATE oracle.callbacks c SET processed_at=now(), outcome=v.outcome
           FROM unnest($1::bigint[], $2::text[]) AS v(id, outcome) WHERE c.id=v.id`,
        [batch.map((b) => b.id), batch.map((b) => b.outcome)],
      );
      return batch.map(() => undefined);
    });
    outcomeWriters.set(pool, w);
  }
  await w.submit({ id, outcome });
}

/** Stored callbacks not yet decided, oldest first; one whose processing failed waits out its backoff (jobs/isolation.ts). */
export async function unprocessed(pool: Pool, kind: CallbackKind, limit = 100): Promise<{ id: string; raw: unknown; source_ip: string }[]> {
  const { rows } = await pool.query(
    `SELECT id, raw, source_ip FROM oracle.callbacks c
      WHERE processed_at IS NULL AND kind=$1 AND received_at < now() - interval '2 seconds' AND NOT ${IN_BACKOFF_SQL('callback', 'c.id::text')}
      ORDER BY id LIMIT $2`,
    [kind, limit],
  );
  return rows;
}
