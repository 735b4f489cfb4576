import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';

export interface MigrationResult { applied: string[]; skipped: string[] }

/**
 * Applies `NNN_name.sql` files from `dir` in order, each in its own transaction,
 * recording name + sha256 in `<schema>.schema_migrations`. An advisory lock keyed on
 * the schema makes concurrent starts safe. A changed, already-applied file is an error:
 * migrations are append-only.
 */
export async function migrate(pool: Pool, schema: string, dir: string, opts: { role?: string } = {}): Promise<MigrationResult> {
  const files = migrationFiles(dir);
  const client = await pool.connect();
  const applied: string[] = [];
  const skipped: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`migrate:${schema}`]);
    // As the schema's owner role (db:setup), so every object it creates belongs to that role.
    if (opts.role) await client.query(`SET ROLE "${opts.role.replace(/"/g, '""')}"`);
    // A schema created beforehand (db:setup, owned by a service's role) needs no CREATE right on the database.
    const exists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount;
    if (!exists) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
         name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM "${schema}".schema_migrations`);
    const done = new Map(rows.map((r) => [r.name, r.checksum]));
    for (const file of files) {
      const sql = readFileSync(join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const prior = done.get(file);
      if (prior !== undefined) {
        if (prior !== checksum) throw new Error(`migration ${file} in schema ${schema} was changed after it was applied`);
        skipped.push(file);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO "${schema}", public`);
        await client.query(sql);
        await client.query(`INSERT INTO "${schema}".schema_migrations (name, checksum) VALUES ($1, $2)`, [file, checksum]);
        await client.query('COMMIT');
        applied.push(file);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    if (opts.role) await client.query('RESET ROLE').catch(() => undefined);
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`migrate:${schema}`]).catch(() => undefined);
    client.release();
  }
  return { applied, skipped };
}

const migrationFiles = (dir: string) => readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();

/** Migrations in `dir` not yet applied to `schema` (read only: any role that may read schema_migrations can ask). */
export async function pendingMigrations(pool: Pool, schema: string, dir: string): Promise<string[]> {
  const table = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`"${schema}".schema_migrations`]);
  const done = table.rows[0]!.t ? new Set((await pool.query<{ name: string }>(`SELECT name FROM "${schema}".schema_migrations`)).rows.map((r) => r.name)) : new Set<string>();
  return migrationFiles(dir).filter((f) => !done.has(f));
}
