/**
 * `npm run backup`: one pg_dump (custom format) of the three schemas that hold the money
 * records — `app` (API), `oracle` (the oracle's ledger) and the SubQuery index — plus
 * manifest.json. The dump runs on a snapshot exported from a read-only transaction in which
 * the manifest's heights and counts are read too, so dump and manifest describe the same
 * instant and the three schemas are consistent with each other. docs/operations.md, Backups.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createPool, env, jsonRpc, loadConfigOrExit, pgUrlParts, type Pool } from '@descrow/common';
import { readDeployment } from '../../sandbox/chain/deploy';
import { connection, findPgTool, runPgTool, serverMajor } from './pgTools';
import { DUMP_FILE, ENCRYPTED_DUMP_FILE, MANIFEST_FILE, manifestSchema, sha256File, type Manifest } from './manifest';
import { DIR_MODE, encryptFile, FILE_MODE } from './encryption';

export interface BackupOptions {
  databaseUrl: string;
  /** The directory to write (created; must not hold a backup already). */
  outDir: string;
  indexSchema?: string;
  /** Read the chain's head and id from here (optional: the manifest then says null). */
  rpcUrl?: string;
  contractAddress?: string;
  deploymentFile?: string;
  pgBinDir?: string;
  /** DATABASE_URL was unset: also look for pg_dump beside the embedded Postgres. */
  embedded?: boolean;
  /** age public keys (age1…): the dump is encrypted to them and only its ciphertext is kept. */
  recipients?: readonly string[];
}

/**
 * Orders and order events in the index as they stand (`upper_inf(_block_range)`): the index
 * keeps each row's past versions for time travel, so count(*) counts an order once per change.
 */
export async function currentRows(db: Pick<Pool, 'query'>, indexSchema: string): Promise<{ orders?: number; orderEvents?: number }> {
  const out: { orders?: number; orderEvents?: number } = {};
  for (const [key, table] of [['orders', 'orders'], ['orderEvents', 'order_events']] as const) {
    const exists = (await db.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2`, [indexSchema, table])).rowCount;
    if (exists) out[key] = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM "${indexSchema}".${table} WHERE upper_inf(_block_range)`)).rows[0]!.n);
  }
  return out;
}

/** What the RPC says, or null when it cannot say (the backup records what it knows). */
const rpc = <T>(url: string, method: string): Promise<T | null> => jsonRpc<T | undefined>(url, method, [], 5_000).then((r) => r ?? null, () => null);

function deploymentAddress(file: string | undefined): { address: string | null; chainId: number | null } {
  if (!file || !existsSync(file)) return { address: null, chainId: null };
  const d = readDeployment(file);
  return { address: d.address ?? null, chainId: d.chainId ?? null };
}

export async function takeBackup(opts: BackupOptions): Promise<{ dir: string; manifest: Manifest }> {
  const dir = resolve(opts.outDir);
  if (existsSync(join(dir, MANIFEST_FILE))) throw new Error(`${dir} already holds a backup; choose another --out`);
  const schemas = { app: 'app', oracle: 'oracle', index: opts.indexSchema ?? 'descrow_index' };
  const pool = createPool(opts.databaseUrl, 'descrow-backup', { max: 1 });
  const client = await pool.connect();
  try {
    const major = await serverMajor(client);
    const pgDump = await findPgTool('pg_dump', major, { binDir: opts.pgBinDir, embedded: opts.embedded });
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const present = new Set((await client.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname = ANY($1)`, [Object.values(schemas)])).rows.map((r) => r.n));
    const missing = Object.values(schemas).filter((s) => !present.has(s));
    if (missing.length) throw new Error(`schema ${missing.join(', ')} not found in database ${pgUrlParts(opts.databaseUrl).database}: nothing consistent to back up (has every part run once?)`);

    // Everything below reads the same snapshot the dump is taken from.
    const q = async <T extends Record<string, unknown>>(sql: string): Promise<T[]> => (await client.query<T>(sql)).rows;
    const migrations: Record<string, string[]> = {};
    for (const s of [schemas.app, schemas.oracle]) {
      const has = await q(`SELECT 1 FROM pg_tables WHERE schemaname='${s}' AND tablename='schema_migrations'`);
      migrations[s] = has.length ? (await q<{ name: string }>(`SELECT name FROM "${s}".schema_migrations ORDER BY name`)).map((r) => r.name) : [];
    }
    const meta = new Map<string, unknown>();
    if ((await q(`SELECT 1 FROM pg_tables WHERE schemaname='${schemas.index}' AND tablename='_metadata'`)).length) {
      for (const r of await q<{ key: string; value: unknown }>(`SELECT key, value FROM "${schemas.index}"._metadata`)) meta.set(r.key, r.value);
    }
    const indexed = await currentRows(client, schemas.index);
    const num = (v: unknown) => (v === undefined || v === null ? null : Number(v));
    const counts = async (table: string) => Object.fromEntries((await q<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM "${schemas.oracle}".${table} GROUP BY status`)).map((r) => [r.status, r.n]));
    const outbox = (await q<{ last: string | null; open: number }>(
      `SELECT max(block_number) FILTER (WHERE status='confirmed') AS last, count(*) FILTER (WHERE status IN ('pending','sent'))::int AS open FROM "${schemas.oracle}".outbox`,
    ))[0]!;
    const lastPull = (await q<{ at: Date | null }>(`SELECT max(pulled_at) AS at FROM "${schemas.oracle}".pulled_transactions`))[0]!.at;
    const extensions = (await q<{ extname: string }>(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname`)).map((r) => r.extname);
    const serverVersion = (await q<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!.v;

    const [headHex, chainIdHex] = opts.rpcUrl ? await Promise.all([rpc<string>(opts.rpcUrl, 'eth_blockNumber'), rpc<string>(opts.rpcUrl, 'eth_chainId')]) : [null, null];
    const deployed = deploymentAddress(opts.deploymentFile);

    // Only the owner enters the folder (before anything is written into it) or reads a file.
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    chmodSync(dir, DIR_MODE);
    const plainPath = join(dir, DUMP_FILE);
    const conn = connection(opts.databaseUrl);
    await runPgTool(pgDump, ['--format=custom', `--snapshot=${snapshot}`, '--no-owner', '--no-privileges', ...Object.values(schemas).flatMap((s) => ['--schema', s]), '--file', plainPath, ...conn.args], conn.env);
    chmodSync(plainPath, FILE_MODE);
    await client.query('COMMIT');
    let dumpPath = plainPath;
    if (opts.recipients?.length) {
      dumpPath = join(dir, ENCRYPTED_DUMP_FILE);
      try {
        await encryptFile(plainPath, dumpPath, opts.recipients);
      } finally {
        rmSync(plainPath, { force: true }); // the plaintext never outlives the backup run
      }
    }

    const { host, database } = pgUrlParts(opts.databaseUrl);
    const manifest = manifestSchema.parse({
      format: 1,
      createdAt: new Date().toISOString(),
      source: { host, database, serverVersion },
      pgDump: pgDump.version,
      dump: { file: opts.recipients?.length ? ENCRYPTED_DUMP_FILE : DUMP_FILE, bytes: statSync(dumpPath).size, sha256: await sha256File(dumpPath) },
      schemas,
      extensions,
      migrations,
      chain: {
        chainId: chainIdHex ? Number(chainIdHex) : deployed.chainId,
        contractAddress: opts.contractAddress ?? deployed.address,
        headAtBackup: headHex ? Number(headHex) : null,
      },
      index: {
        lastProcessedHeight: num(meta.get('lastProcessedHeight')),
        targetHeight: num(meta.get('targetHeight')),
        genesisHash: (meta.get('genesisHash') as string | undefined) ?? null,
        ...indexed,
      },
      oracle: {
        paymentRequests: await counts('payment_requests').catch(() => ({})),
        payouts: await counts('payouts').catch(() => ({})),
        lastConfirmedRecordBlock: num(outbox.last),
        outboxUnconfirmed: outbox.open,
        lastPullAt: lastPull ? lastPull.toISOString() : null,
      },
    } satisfies Manifest);
    writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: FILE_MODE });
    return { dir, manifest };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined); // a no-op after COMMIT
    client.release();
    await pool.end();
  }
}

/** `3 (paid 2, pending 1)`, or `0`. */
export function describeCounts(byStatus: Record<string, number>): string {
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const parts = Object.entries(byStatus).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`);
  return total ? `${total} (${parts.join(', ')})` : '0';
}

/** The embedded Postgres `npm start` runs when DATABASE_URL is unset (scripts/start.ts). */
const embeddedUrl = (port: number) => `postgres://postgres:postgres@127.0.0.1:${port}/descrow`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, recipient: { type: 'string', multiple: true } }, allowPositionals: false });
  const config = loadConfigOrExit({
    DATABASE_URL: env.optionalUrl(),
    EMBEDDED_PG_PORT: env.port(54320),
    /** Backups go to BACKUP_DIR/descrow-<time> unless --out names the directory. */
    BACKUP_DIR: z.string().min(1).default('backups'),
    INDEXER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case Postgres identifier').default('descrow_index'),
    /** The chain whose head the manifest records (the dev chain of `npm start` by default). */
    RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
    ESCROW_ADDRESS: env.address().optional(),
    DEPLOYMENT_FILE: z.string().default('sandbox/chain/deployments/local.json'),
    PG_BIN_DIR: z.string().optional(),
    /** age public keys (age1…, comma-separated): encrypt the dump to them (docs/operations.md, Backups). */
    BACKUP_AGE_RECIPIENTS: env.list(),
  });
  const recipients = [...config.BACKUP_AGE_RECIPIENTS, ...(values.recipient ?? [])];
  const out = z.string().min(1, '--out needs a directory').optional().parse(values.out);
  const databaseUrl = config.DATABASE_URL ?? embeddedUrl(config.EMBEDDED_PG_PORT);
  if (!config.DATABASE_URL) process.stdout.write(`DATABASE_URL is unset: backing up the embedded Postgres of \`npm start\` (${databaseUrl.replace(/:[^:@/]*@/, '@')}), which must be running\n`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const { dir, manifest } = await takeBackup({
    databaseUrl, outDir: out ?? join(config.BACKUP_DIR, `descrow-${stamp}`), indexSchema: config.INDEXER_DB_SCHEMA,
    rpcUrl: config.RPC_URL, contractAddress: config.ESCROW_ADDRESS, deploymentFile: config.DEPLOYMENT_FILE, pgBinDir: config.PG_BIN_DIR, embedded: !config.DATABASE_URL, recipients,
  });
  const s = manifest.schemas;
  process.stdout.write(
    `backup written to ${dir}\n` +
      `  schemas ${s.app}, ${s.oracle}, ${s.index}: ${(manifest.dump.bytes / 1024).toFixed(0)} KiB, sha256 ${manifest.dump.sha256}\n` +
      `  ${manifest.dump.file}: ${recipients.length ? `encrypted with age to ${recipients.length} recipient(s); restore with --identity <identity file>` : 'NOT encrypted (set BACKUP_AGE_RECIPIENTS to encrypt it)'}; files 0600 in a 0700 folder\n` +
      `  contract ${manifest.chain.contractAddress ?? 'unknown'} on chain ${manifest.chain.chainId ?? 'unknown'}; chain head ${manifest.chain.headAtBackup ?? `unknown (no answer from RPC_URL=${config.RPC_URL})`}, index at block ${manifest.index.lastProcessedHeight ?? 'none'}\n` +
      `  ${manifest.index.orders ?? 0} orders and ${manifest.index.orderEvents ?? 0} order events in the index; ledger: ${describeCounts(manifest.oracle.paymentRequests)} payment requests, ${describeCounts(manifest.oracle.payouts)} payouts\n`,
  );
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`backup failed: ${err.message}\n`);
    process.exit(1);
  });
}
