/**
 * A Postgres session advisory lock held on its own pooled connection for as long as the
 * process leads (the jobs leader, the chain writer). The connection can die under it
 * (failover, pg_terminate_backend, a network cut): then the lock is gone with it. Every
 * `hold()` checks the connection first; a dead one is destroyed — never returned to the
 * pool, where it would sit as a client with no live connection — and the lock re-taken.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '@descrow/common';

export class HeldLock {
  private client: PoolClient | null = null;

  constructor(private readonly pool: Pool, private readonly key: string, private readonly log: Logger, private readonly what: string) {}

  get held(): boolean {
    return this.client !== null;
  }

  /** true while this process holds the lock (re-taking it after its connection died). */
  async hold(): Promise<boolean> {
    if (this.client) {
      try {
        await this.client.query('SELECT 1');
        return true;
      } catch (err) {
        this.drop(err as Error);
      }
    }
    const client = await this.pool.connect();
    let ok = false;
    try {
      ok = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.key])).rows[0]?.ok === true;
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    if (!ok) {
      client.release();
      return false;
    }
    this.client = client;
    // An idle connection that dies emits 'error': destroy it now; the next hold() re-takes the lock.
    client.on('error', (err) => {
      if (this.client === client) this.drop(err);
    });
    this.log.info(`${this.what}: this instance holds the lock`);
    return true;
  }

  private drop(err: Error): void {
    const client = this.client;
    this.client = null;
    if (!client) return;
    this.log.warn({ err: err.message }, `${this.what}: lock connection lost; it is destroyed and the lock will be re-taken`);
    try {
      client.release(err); // with an error: the pool destroys the client instead of reusing it
    } catch {
      /* already released */
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    const ok = await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]).then(() => true, () => false);
    client.release(ok ? undefined : true);
  }
}
