import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { migrate } from '../src/migrate';
import { createTestDatabase } from '../src/testing/database';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase('migrate');
  pool = new Pool({ connectionString: db.url });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function dir(files: Record<string, string>) {
  const d = mkdtempSync(join(tmpdir(), 'mig-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(d, name), sql);
  return d;
}

test('applies files in order once; concurrent runs apply each file exactly once', async () => {
  const d = dir({ '001_a.sql': 'CREATE TABLE a (id int primary key);', '002_b.sql': 'CREATE TABLE b (id int references a(id));' });
  const results = await Promise.all([migrate(pool, 'mig1', d), migrate(pool, 'mig1', d), migrate(pool, 'mig1', d)]);
  expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 2]);
  const { rows } = await pool.query(`SELECT name FROM mig1.schema_migrations ORDER BY name`);
  expect(rows.map((r) => r.name)).toEqual(['001_a.sql', '002_b.sql']);
});

test('a failing file rolls back entirely and is not recorded', async () => {
  const d = dir({ '001_ok.sql': 'CREATE TABLE ok (id int);', '002_bad.sql': 'CREATE TABLE half (id int); SELECT no_such_column FROM ok;' });
  await expect(migrate(pool, 'mig2', d)).rejects.toThrow(/002_bad.sql failed/);
  const { rows } = await pool.query(`SELECT to_regclass('mig2.half') AS half, to_regclass('mig2.ok') AS ok`);
  expect(rows[0]).toEqual({ half: null, ok: 'mig2.ok' });
});

test('editing an applied migration is refused', async () => {
  const d = dir({ '001_x.sql': 'CREATE TABLE x (id int);' });
  await migrate(pool, 'mig3', d);
  writeFileSync(join(d, '001_x.sql'), 'CREATE TABLE x (id bigint);');
  await expect(migrate(pool, 'mig3', d)).rejects.toThrow(/was changed after it was applied/);
});
