/**
 * Issue 25, point 7: every service connects as a role with only the rights it needs, made
 * by db:setup (common/src/roles.ts). Attack that worked: the API's role owned the
 * "append-only" audit log, so it could `ALTER TABLE … DISABLE TRIGGER` and then DELETE
 * every entry (and every service connected as the Postgres superuser in compose).
 *
 * On a scratch database: db:setup makes the roles (twice: it is idempotent), the oracle
 * applies its own migrations as its role, the SubQuery node's role creates an index table;
 * then, connected as the API, every way to change or remove audit entries, and every
 * write to the oracle's or the index's tables, is refused by Postgres, while what the API
 * does every day (its own tables, appending to and reading the log, reading the ledger and
 * the index) works.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { migrate, Pool, setupDatabase } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { createTestRoles, type TestRoles } from '@descrow/common/src/testing/roles';

const ROOT = resolve(__dirname, '../..');
const APP_MIGRATIONS = join(ROOT, 'api/migrations');
let db: { url: string; drop: () => Promise<void> };
let roles: TestRoles;
const pools: Pool[] = [];
const as = (url: string) => {
  const p = new Pool({ connectionString: url, max: 1 });
  pools.push(p);
  return p;
};
let admin: Pool;
let api: Pool;

beforeAll(async () => {
  db = await createTestDatabase('roles');
  roles = await createTestRoles(db.url, APP_MIGRATIONS);
  admin = as(db.url);
  // The oracle at start: its own migrations, as its own role (it owns its schema).
  await migrate(as(roles.urls.oracle), 'oracle', join(ROOT, 'oracle/migrations'));
  // The SubQuery node creates its tables in the index schema, after db:setup ran.
  await as(roles.urls.indexer).query(`CREATE TABLE descrow_index.orders (id text PRIMARY KEY, status text); INSERT INTO descrow_index.orders VALUES ('0x01', 'FUNDED')`);
  api = as(roles.urls.api);
  await api.query(`INSERT INTO app.audit_log (actor, action, subject, details) VALUES ('0xadmin', 'kyc.approve', '0xseller', '{}')`);
}, 60_000);

afterAll(async () => {
  for (const p of pools) await p.end().catch(() => undefined);
  await db?.drop();
  await roles?.drop();
});

const refused = async (pool: Pool, sql: string) => {
  const err = await pool.query(sql).then(() => null, (e: { code?: string; message: string }) => e);
  return err ? `${err.code}: ${err.message}` : 'allowed';
};

test("attack: the API's role cannot alter, disable the triggers of, update, delete, truncate or drop the audit log", async () => {
  const attacks = [
    'ALTER TABLE app.audit_log DISABLE TRIGGER ALL',
    'ALTER TABLE app.audit_log DISABLE TRIGGER audit_log_no_change',
    'DROP TRIGGER audit_log_no_change ON app.audit_log',
    `ALTER TABLE app.audit_log OWNER TO CURRENT_USER`,
    'ALTER TABLE app.audit_log ADD COLUMN forged boolean',
    `UPDATE app.audit_log SET actor = 'someone else'`,
    'DELETE FROM app.audit_log',
    'TRUNCATE app.audit_log',
    'DROP TABLE app.audit_log',
    'CREATE OR REPLACE FUNCTION app.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$',
    `SET session_replication_role = replica`,
  ];
  for (const sql of attacks) expect([sql, await refused(api, sql)]).toEqual([sql, expect.stringMatching(/^42501: (permission denied|must be owner)/)]);
  // Nothing changed: the entry is there, as written.
  expect((await admin.query('SELECT actor, action FROM app.audit_log')).rows).toEqual([{ actor: '0xadmin', action: 'kyc.approve' }]);
});

test("attack: the API's role cannot write the oracle's ledger or the index, nor create objects anywhere", async () => {
  const attacks = [
    `INSERT INTO oracle.refund_cases (kind, dedupe_key, order_id, receipt, phone, amount_kes, reason) VALUES ('paid_twice', 'X', '0x01', 'R', '254700000000', 1, 'forged')`,
    `UPDATE oracle.payment_requests SET status = 'paid'`,
    'DELETE FROM oracle.payouts',
    'TRUNCATE oracle.outbox',
    `INSERT INTO descrow_index.orders VALUES ('0x02', 'COMPLETED')`,
    `UPDATE descrow_index.orders SET status = 'COMPLETED'`,
    'DELETE FROM descrow_index.orders',
    `INSERT INTO app.schema_migrations (name, checksum) VALUES ('999_forged.sql', 'x')`,
    'CREATE TABLE app.mine (x int)',
    'CREATE TABLE oracle.mine (x int)',
    'CREATE TABLE descrow_index.mine (x int)',
    'CREATE TABLE public.mine (x int)',
    'CREATE SCHEMA mine',
  ];
  for (const sql of attacks) expect([sql, await refused(api, sql)]).toEqual([sql, expect.stringMatching(/^42501: /)]);
  // Neither can the oracle read the API's private data (phones, addresses).
  expect(await refused(as(roles.urls.oracle), 'SELECT * FROM app.users')).toMatch(/^42501: permission denied/);
  // The query service reads the index and nothing else.
  const query = as(roles.urls.query);
  expect((await query.query('SELECT status FROM descrow_index.orders')).rows).toEqual([{ status: 'FUNDED' }]);
  expect(await refused(query, `UPDATE descrow_index.orders SET status = 'x'`)).toMatch(/^42501: /);
  expect(await refused(query, 'SELECT * FROM oracle.payment_requests')).toMatch(/^42501: /);
});

test("what the API does every day still works under its role: its tables, appending and reading the log, reading the ledger and the index", async () => {
  await api.query(`INSERT INTO app.users (address, phone) VALUES ('0x${'ab'.repeat(20)}', '254722555010')`);
  await api.query(`UPDATE app.users SET display_name = 'Jane' WHERE address = '0x${'ab'.repeat(20)}'`);
  await api.query(`DELETE FROM app.login_challenges`);
  await api.query(`INSERT INTO app.audit_log (actor, action, subject, details) VALUES ('0xadmin', 'kyc.reject', '0xseller', '{}')`);
  expect((await api.query('SELECT count(*)::int AS n FROM app.audit_log')).rows[0].n).toBe(2);
  expect((await api.query('SELECT count(*)::int AS n FROM oracle.payment_requests')).rows[0].n).toBe(0);
  expect((await api.query('SELECT status FROM descrow_index.orders')).rows).toEqual([{ status: 'FUNDED' }]);
  expect((await api.query('SELECT count(*)::int AS n FROM app.schema_migrations')).rows[0].n).toBeGreaterThan(0);
});

test('db:setup runs again safely: roles updated, objects made by someone else (a restore) handed back to their owner, rights the same', async () => {
  // A restore as the admin leaves its objects owned by the admin.
  await admin.query('CREATE TABLE app.restored_by_admin (x int)');
  await admin.query('CREATE TABLE oracle.restored_by_admin (x int)');
  const before = (await admin.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [new URL(roles.urls.api).username])).rows[0].rolpassword;
  const rotated = new URL(roles.urls.api);
  rotated.password = 'a-new-password-for-the-api';
  const r = await setupDatabase({ adminUrl: db.url, services: { ...roles.urls, api: rotated.toString() }, ownerRole: roles.owner, appMigrations: APP_MIGRATIONS });
  expect(Object.values(r.roles)).toEqual(['updated', 'updated', 'updated', 'updated', 'updated']);
  expect(r.applied).toEqual([]);
  expect((await admin.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [rotated.username])).rows[0].rolpassword).not.toBe(before);
  const owners = (await admin.query(`SELECT schemaname, tableowner FROM pg_tables WHERE tablename = 'restored_by_admin' ORDER BY schemaname`)).rows;
  expect(owners).toEqual([{ schemaname: 'app', tableowner: roles.owner }, { schemaname: 'oracle', tableowner: new URL(roles.urls.oracle).username }]);
  // From now on the API connects with its new password (a server with password auth refuses the old one).
  roles.urls.api = rotated.toString();
  api = as(roles.urls.api);
  expect(await refused(api, 'ALTER TABLE app.audit_log DISABLE TRIGGER ALL')).toMatch(/^42501: must be owner/);
  expect(await refused(api, 'DELETE FROM app.audit_log')).toMatch(/^42501: permission denied/);
  // A service given the admin's own role is refused: it would own everything.
  await expect(setupDatabase({ adminUrl: db.url, services: { api: db.url.replace('postgres@', 'postgres:x@') }, appMigrations: APP_MIGRATIONS })).rejects.toThrow(/is used twice \(or is the admin role of DATABASE_URL\)/);
});

/** `npm run api` in production with a complete, safe configuration but the given database. */
function apiMain(databaseUrl: string): Promise<{ status: number | null; stderr: string }> {
  const secret = () => randomBytes(24).toString('hex');
  const address = () => `0x${randomBytes(20).toString('hex')}`;
  const env = {
    PATH: process.env.PATH!, TZ: 'UTC', LOG_LEVEL: 'error', NODE_ENV: 'production', DATABASE_URL: databaseUrl, REDIS_URL: 'redis://127.0.0.1:1',
    JWT_SECRET: secret(), ORACLE_SERVICE_TOKEN: secret(), KYC_ENCRYPTION_KEYS: `k1:${secret()}`, LOGIN_DOMAIN: 'shop.example.com', LOGIN_URI: 'https://shop.example.com',
    ADMIN_ADDRESSES: address(), ESCROW_ADDRESS: address(), ORACLE_ADDRESS: address(), ARBITER_ADDRESS: address(),
  };
  return new Promise((done) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'api/src/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      done({ status, stderr });
    });
  });
}

test('attack: outside development the API refuses to start connected as a role that could change the audit log; a role that cannot apply pending migrations is told to run db:setup', async () => {
  const superuser = await apiMain(db.url);
  expect(superuser.status).toBe(1);
  expect(superuser.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Unsafe configuration \(NODE_ENV=production\): DATABASE_URL connects as "postgres", which is a superuser and could rewrite or empty the audit log: connect the API as its own role \(npm run db:setup/)]);

  const empty = await createTestDatabase('roles_empty');
  try {
    const u = new URL(roles.urls.api);
    u.pathname = new URL(empty.url).pathname;
    const pending = await apiMain(u.toString());
    expect(pending.status).toBe(1);
    expect(pending.stderr).toMatch(/app migrations 001_app\.sql, .* are not applied and this role cannot apply them \(.*permission denied.*\): run npm run db:setup as the database admin/);
  } finally {
    await empty.drop();
  }
}, 120_000);
