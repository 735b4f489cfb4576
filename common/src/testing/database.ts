import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { withDatabase } from '../db';

/** The server tests run against (set by globalSetup when DATABASE_URL was unset). */
export function testServerUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run tests through jest (globalSetup starts a Postgres)');
  return url;
}

/**
 * A fresh, empty database for one test file, so files can run in parallel and a
 * failed run leaves nothing behind for the next one. Returns its URL and a drop().
 */
export async function createTestDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `descrow_t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: withDatabase(testServerUrl(), 'postgres'), max: 1 });
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  return {
    url: withDatabase(testServerUrl(), name),
    drop: async () => {
      const a = new Pool({ connectionString: withDatabase(testServerUrl(), 'postgres'), max: 1 });
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}
