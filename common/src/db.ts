import { Pool, type PoolClient, type PoolConfig } from 'pg';

export { Pool };

/** A pg pool with sane defaults; `application_name` shows the part in pg_stat_activity. */
export function createPool(connectionString: string, applicationName: string, extra: PoolConfig = {}, onIdleError?: (err: Error) => void): Pool {
  const pool = new Pool({ connectionString, application_name: applicationName, max: 10, idleTimeoutMillis: 30_000, ...extra });
  // An idle connection that dies (server restart, failover, DROP DATABASE … FORCE) must not
  // crash the process: the pool drops it and opens a new one on the next query.
  pool.on('error', (err) => onIdleError?.(err));
  return pool;
}

/** Run `fn` in one transaction on a client of `pool`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Split a postgres URL into the DB_* variables SubQuery wants. */
export function pgUrlParts(url: string): { host: string; port: number; user: string; password: string; database: string } {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password || ''),
    database: decodeURIComponent(u.pathname.replace(/^\//, '') || 'postgres'),
  };
}

/** Same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** CREATE DATABASE if missing (idempotent, safe to race). */
export async function ensureDatabase(url: string): Promise<void> {
  const { database } = pgUrlParts(url);
  const admin = new Pool({ connectionString: withDatabase(url, 'postgres'), max: 1 });
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created concurrently
      });
    }
  } finally {
    await admin.end();
  }
}
