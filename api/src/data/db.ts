/**
 * One pg pool for everything the API reads and writes: the index and the oracle ledger
 * (plain SQL, read-only) and the `app` schema (through Prisma's pg adapter on the same
 * pool). Every statement goes through `pool.query`, so `stats.queries` counts them all
 * (the DataLoader test relies on it).
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export interface QueryStats { queries: number }

// The index stores `timestamp without time zone` in UTC: parse it as UTC whatever TZ says.
const TIMESTAMP_OID = 1114;
const typeOverrides = {
  getTypeParser(oid: number, format?: string) {
    if (oid === TIMESTAMP_OID && format !== 'binary') return (v: string) => new Date(`${v.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;

export function createDb(url: string, max = 10): { pool: pg.Pool; prisma: PrismaClient; stats: QueryStats } {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'descrow-api', idleTimeoutMillis: 30_000, types: typeOverrides });
  // An idle client the server closed (restart, failover, DROP DATABASE) is dropped from the
  // pool and replaced on the next query; without a listener pg would crash the process.
  pool.on('error', () => undefined);
  const stats: QueryStats = { queries: 0 };
  const original = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
    stats.queries++;
    return original(...args);
  };
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema: 'app' }) });
  return { pool, prisma, stats };
}
