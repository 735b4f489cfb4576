/**
 * `npm run restore -- <backup dir> [--to <database url>] [--force] [--identity <age identity file>]`:
 * checks the manifest and the dump's sha256, decrypts an age-encrypted dump with the
 * identity file (into a private temporary folder, removed after), then pg_restores the
 * three schemas into the target database in one transaction. The target must not hold them already unless --force (which drops them
 * first). What happens after a restore: docs/operations.md, Backups.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createPool, ensureDatabase, env, loadConfigOrExit, pgUrlParts } from '@descrow/common';
import { connection, findPgTool, runPgTool, serverMajor } from './pgTools';
import { ENCRYPTED_DUMP_FILE, MANIFEST_FILE, manifestSchema, sha256File, type Manifest } from './manifest';
import { decryptFile, DUMP_FILE_NAME_PLAIN } from './encryption';
import { currentRows } from './backup';

export interface RestoreOptions {
  /** A directory written by `npm run backup`. */
  from: string;
  databaseUrl: string;
  /** Replace the schemas if the target holds them. */
  force?: boolean;
  pgBinDir?: string;
  embedded?: boolean;
  /** An age identity file (AGE-SECRET-KEY-1…): needed when the backup is encrypted. */
  identityFile?: string;
}

export interface RestoreResult {
  manifest: Manifest;
  replaced: string[];
  /** Rows restored, per table that matters to money. */
  rows: { paymentRequests: number; payouts: number; outbox: number; indexedOrders: number; indexedEvents: number };
}

const total = (byStatus: Record<string, number>) => Object.values(byStatus).reduce((a, b) => a + b, 0);

export function readManifest(dir: string): Manifest {
  const file = join(resolve(dir), MANIFEST_FILE);
  if (!existsSync(file)) throw new Error(`${resolve(dir)} is not a backup (no ${MANIFEST_FILE})`);
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`${file} is not a valid manifest: ${i.path.join('.') || 'root'} ${i.message}`);
  }
  return parsed.data;
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const manifest = readManifest(opts.from);
  const dumpPath = join(resolve(opts.from), manifest.dump.file);
  if (!existsSync(dumpPath)) throw new Error(`${dumpPath} is missing: the backup is incomplete`);
  const sha = await sha256File(dumpPath);
  if (sha !== manifest.dump.sha256) throw new Error(`${dumpPath} has sha256 ${sha}, the manifest says ${manifest.dump.sha256}: the backup is damaged; restore another one`);
  const encrypted = manifest.dump.file === ENCRYPTED_DUMP_FILE;
  if (encrypted && !opts.identityFile) {
    throw new Error(`${dumpPath} is encrypted with age: pass --identity <file holding the AGE-SECRET-KEY-1… that matches one of its recipients> (or set BACKUP_AGE_IDENTITY_FILE)`);
  }
  // An encrypted dump is opened into a private temporary folder (0700, file 0600) and removed after.
  const scratch = encrypted ? mkdtempSync(join(tmpdir(), 'descrow-restore-')) : null;
  try {
    const plainPath = scratch ? join(scratch, DUMP_FILE_NAME_PLAIN) : dumpPath;
    if (scratch) await decryptFile(dumpPath, plainPath, opts.identityFile!);
    return await restoreDump(opts, manifest, plainPath);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function restoreDump(opts: RestoreOptions, manifest: Manifest, dumpPath: string): Promise<RestoreResult> {
  await ensureDatabase(opts.databaseUrl);
  const pool = createPool(opts.databaseUrl, 'descrow-restore', { max: 1 });
  try {
    const major = await serverMajor(pool);
    const pgRestore = await findPgTool('pg_restore', major, { binDir: opts.pgBinDir, embedded: opts.embedded });
    const schemas = Object.values(manifest.schemas);
    const present = (await pool.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname`, [schemas])).rows.map((r) => r.n);
    if (present.length && !opts.force) {
      throw new Error(`database ${pgUrlParts(opts.databaseUrl).database} already has schema ${present.join(', ')}: restore into an empty database, or pass --force to replace them`);
    }
    // Replacing and restoring is one transaction for the drop, then pg_restore's own single
    // transaction: a failed restore leaves the schemas absent, never half-written.
    for (const s of present) await pool.query(`DROP SCHEMA "${s}" CASCADE`);
    for (const e of manifest.extensions) await pool.query(`CREATE EXTENSION IF NOT EXISTS "${e}"`);
    const conn = connection(opts.databaseUrl);
    await runPgTool(pgRestore, ['--single-transaction', '--exit-on-error', '--no-owner', '--no-privileges', ...conn.args, dumpPath], conn.env);

    const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
    const o = manifest.schemas.oracle;
    const rows = {
      paymentRequests: await count(`SELECT count(*) AS n FROM "${o}".payment_requests`).catch(() => 0),
      payouts: await count(`SELECT count(*) AS n FROM "${o}".payouts`).catch(() => 0),
      outbox: await count(`SELECT count(*) AS n FROM "${o}".outbox`).catch(() => 0),
    };
    const indexed = await currentRows(pool, manifest.schemas.index);
    const restored = { ...rows, indexedOrders: indexed.orders ?? 0, indexedEvents: indexed.orderEvents ?? 0 };
    // The dump holds what the manifest says it holds: anything else is a damaged or foreign backup.
    const expected = { paymentRequests: total(manifest.oracle.paymentRequests), payouts: total(manifest.oracle.payouts), indexedOrders: manifest.index.orders, indexedEvents: manifest.index.orderEvents };
    for (const [what, n] of Object.entries(expected)) {
      const got = restored[what as keyof typeof restored];
      if (n !== undefined && got !== n) throw new Error(`the restored database has ${got} ${what} where the manifest says ${n}: the backup does not hold what it describes`);
    }
    return { manifest, replaced: present, rows: restored };
  } finally {
    await pool.end();
  }
}

/** What the operator reads after a restore: what came back and what the services do next. */
export function restoreReport(r: RestoreResult, target: string): string {
  const m = r.manifest;
  const s = m.schemas;
  return [
    `restored ${s.app}, ${s.oracle}, ${s.index} into ${target}${r.replaced.length ? ` (replaced ${r.replaced.join(', ')})` : ''} from the backup of ${m.createdAt}`,
    `  ${r.rows.paymentRequests} payment requests, ${r.rows.payouts} payouts, ${r.rows.outbox} on-chain records in the ledger; ${r.rows.indexedOrders} orders and ${r.rows.indexedEvents} order events in the index`,
    `  contract ${m.chain.contractAddress ?? 'unknown'} on chain ${m.chain.chainId ?? 'unknown'}: the index stops at block ${m.index.lastProcessedHeight ?? 'none'} (chain head then: ${m.chain.headAtBackup ?? 'unknown'})`,
    'next:',
    '  - run npm run db:setup as the database admin: the restore made its role the owner of everything; db:setup hands each schema back to its role and grants again (docs/operations.md, Database roles)',
    `  - start the SubQuery node (INDEXER_DB_SCHEMA=${s.index}): it resumes after block ${m.index.lastProcessedHeight ?? 'its start block'} and re-indexes everything the chain holds since (the chain is the source of truth)`,
    '  - start the oracle: its outbox re-reads the contract before sending, so records already on chain are confirmed, not sent again;',
    '    its first job pass pulls the paybill\'s transactions (ORACLE_PULL_LOOKBACK_HOURS must cover the time since the backup) and re-adds',
    '    payments the backup predates; unanswered payouts are asked about with Transaction Status before any retry',
    '  - profiles, products, evidence records and sessions written after the backup are lost (docs/operations.md, Backups)',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { to: { type: 'string' }, force: { type: 'boolean', default: false }, from: { type: 'string' }, identity: { type: 'string' } }, allowPositionals: true });
  const config = loadConfigOrExit({ DATABASE_URL: env.optionalUrl(), PG_BIN_DIR: z.string().optional(), BACKUP_AGE_IDENTITY_FILE: z.string().optional() });
  const args = z.object({
    from: z.string({ error: 'name the backup directory: npm run restore -- <dir>' }).min(1),
    to: z.string().url('--to must be a postgres:// URL').optional(),
    force: z.boolean(),
  }).safeParse({ from: values.from ?? positionals[0], to: values.to, force: values.force });
  if (!args.success) throw new Error(args.error.issues[0]!.message);
  const target = args.data.to ?? config.DATABASE_URL;
  if (!target) throw new Error('no target database: pass --to <postgres url> or set DATABASE_URL');
  const result = await restoreBackup({ from: args.data.from, databaseUrl: target, force: args.data.force, pgBinDir: config.PG_BIN_DIR, identityFile: values.identity ?? config.BACKUP_AGE_IDENTITY_FILE });
  process.stdout.write(`${restoreReport(result, pgUrlParts(target).database)}\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`restore failed: ${err.message}\n`);
    process.exit(1);
  });
}
