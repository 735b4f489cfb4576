/**
 * Issue 25, point 10: backups hold phones, delivery addresses and receipts. Attack that
 * worked: any local account read them (0644 files in a 0755 folder, the dump in the clear).
 *
 * The real `npm run backup` / `npm run restore` scripts run on a scratch database holding
 * the API's and the oracle's migrated schemas with one buyer's phone and address: the
 * backup's folder is 0700 and its files 0600; encrypted to an operator's age public key,
 * the folder holds no readable byte of the data; restore refuses without the identity file
 * (saying how), refuses another key's identity, and with the right one brings the data back
 * and leaves no decrypted copy behind.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { migrate, Pool } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '../..');
const tsx = join(ROOT, 'node_modules/.bin/tsx');
const run = promisify(execFile);
const PHONE = '254722555010';
const ADDRESS = 'House 14 gate B, Jane Wanjiru';

let source: { url: string; drop: () => Promise<void> };
const drops: (() => Promise<void>)[] = [];
const work = mkdtempSync(join(tmpdir(), 'descrow-backup-files-'));
/** An operator's age key pair, as age-keygen makes it (typage's generateIdentity). */
const keys: { identity: string; recipient: string; otherIdentity: string } = { identity: '', recipient: '', otherIdentity: '' };

beforeAll(async () => {
  source = await createTestDatabase('backup_files');
  const pool = new Pool({ connectionString: source.url, max: 1 });
  try {
    await migrate(pool, 'app', join(ROOT, 'api/migrations'));
    await migrate(pool, 'oracle', join(ROOT, 'oracle/migrations'));
    await pool.query('CREATE SCHEMA descrow_index');
    await pool.query(`INSERT INTO app.users (address, phone) VALUES ($1, $2)`, [`0x${'ab'.repeat(20)}`, PHONE]);
    await pool.query(
      `INSERT INTO app.order_drafts (order_id, buyer, seller, amount, payment_mode, delivery_address, metadata_cid, order_salt) VALUES ($1, $2, $2, 1, 'MPESA', $3, 'bafy', $1)`,
      [`0x${'cd'.repeat(32)}`, `0x${'ab'.repeat(20)}`, ADDRESS],
    );
  } finally {
    await pool.end();
  }
  // Keys made by the library the scripts use, in a child (it is an ES module).
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    import { generateIdentity, identityToRecipient } from 'age-encryption';
    const a = await generateIdentity(); const b = await generateIdentity();
    console.log(JSON.stringify({ identity: a, recipient: await identityToRecipient(a), otherIdentity: b }));`], { cwd: ROOT });
  Object.assign(keys, JSON.parse(stdout));
});

afterAll(async () => {
  for (const d of drops) await d().catch(() => undefined);
  await source?.drop().catch(() => undefined);
});

const env = (extra: Record<string, string> = {}) => ({ ...process.env, DATABASE_URL: source.url, RPC_URL: '', ...extra });
const mode = (path: string) => statSync(path).mode & 0o777;
const backup = (out: string, extra: Record<string, string> = {}) => run(tsx, [join(ROOT, 'scripts/backup/backup.ts'), '--out', out], { cwd: ROOT, env: env(extra) });
const restore = (dir: string, to: string, args: string[] = []) =>
  run(tsx, [join(ROOT, 'scripts/backup/restore.ts'), dir, '--to', to, ...args], { cwd: ROOT, env: { ...process.env } }).catch((e: { code: number; stdout: string; stderr: string }) => e);

test('attack: another local account can read nothing of a backup — the folder is 0700 and every file 0600', async () => {
  const dir = join(work, 'plain');
  const r = await backup(dir);
  const files = readdirSync(dir).sort();
  expect(files).toEqual(['descrow.dump', 'manifest.json']);
  expect({ folder: mode(dir), ...Object.fromEntries(files.map((f) => [f, mode(join(dir, f))])) }).toEqual({ folder: 0o700, 'descrow.dump': 0o600, 'manifest.json': 0o600 });
  expect(r.stdout).toMatch(/NOT encrypted \(set BACKUP_AGE_RECIPIENTS to encrypt it\)/);
});

test('encrypted to an operator\'s age key: nothing readable on disk; restore says how, refuses the wrong key, and brings the data back with the right one', async () => {
  const dir = join(work, 'sealed');
  const r = await backup(dir, { BACKUP_AGE_RECIPIENTS: keys.recipient });
  expect(r.stdout).toMatch(/descrow\.dump\.age: encrypted with age to 1 recipient\(s\); restore with --identity/);
  expect(mode(dir)).toBe(0o700);
  expect(readdirSync(dir).sort()).toEqual(['descrow.dump.age', 'manifest.json']);
  for (const f of readdirSync(dir)) expect(mode(join(dir, f))).toBe(0o600);
  const stored = readFileSync(join(dir, 'descrow.dump.age'));
  expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  expect(stored.includes(Buffer.from(PHONE))).toBe(false);
  expect(stored.includes(Buffer.from(ADDRESS))).toBe(false);

  const target = await createTestDatabase('backup_files_restored');
  drops.push(target.drop);
  // Without the identity: one line saying how.
  const refused = await restore(dir, target.url);
  expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^restore failed: \S+descrow\.dump\.age is encrypted with age: pass --identity <file holding the AGE-SECRET-KEY-1… that matches one of its recipients> \(or set BACKUP_AGE_IDENTITY_FILE\)\n$/) });
  // Another operator's key opens nothing.
  const wrong = join(work, 'other.key');
  writeFileSync(wrong, `# created: by the test\n${keys.otherIdentity}\n`, { mode: 0o600 });
  expect(await restore(dir, target.url, ['--identity', wrong])).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot open this backup: it was encrypted to another key/) });

  const right = join(work, 'operator.key');
  writeFileSync(right, `# public key: ${keys.recipient}\n${keys.identity}\n`, { mode: 0o600 });
  const tmpBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('descrow-restore-'));
  const ok = await restore(dir, target.url, ['--identity', right]);
  expect((ok as { stdout: string }).stdout).toMatch(/^restored app, oracle, descrow_index into /);
  const pool = new Pool({ connectionString: target.url, max: 1 });
  try {
    expect((await pool.query('SELECT phone FROM app.users')).rows).toEqual([{ phone: PHONE }]);
    expect((await pool.query('SELECT delivery_address FROM app.order_drafts')).rows).toEqual([{ delivery_address: ADDRESS }]);
  } finally {
    await pool.end();
  }
  // No decrypted copy is left behind.
  expect(readdirSync(tmpdir()).filter((f) => f.startsWith('descrow-restore-'))).toEqual(tmpBefore);
});
