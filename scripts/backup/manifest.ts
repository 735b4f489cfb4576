/**
 * manifest.json, written beside the dump: what the dump holds and where the chain, the
 * index and the oracle stood at the snapshot the dump was taken from. Restore checks it
 * (and the dump's sha256) before touching a database.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { z } from 'zod';

export const DUMP_FILE = 'descrow.dump';
/** The dump encrypted with age to the operators' public keys (scripts/backup/encryption.ts). */
export const ENCRYPTED_DUMP_FILE = 'descrow.dump.age';
export const MANIFEST_FILE = 'manifest.json';

const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case Postgres identifier');
const hex = z.string().regex(/^0x[0-9a-fA-F]+$/);

export const manifestSchema = z.object({
  format: z.literal(1),
  createdAt: z.string().datetime(),
  /** Where it was taken from (no password). */
  source: z.object({ host: z.string(), database: z.string(), serverVersion: z.string() }),
  pgDump: z.string(),
  dump: z.object({ file: z.enum([DUMP_FILE, ENCRYPTED_DUMP_FILE]), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  schemas: z.object({ app: identifier, oracle: identifier, index: identifier }),
  /** Extensions the database had (the index's tables may need them); restore creates them first. */
  extensions: z.array(identifier),
  /** Migrations applied per schema at the snapshot. */
  migrations: z.record(z.string(), z.array(z.string())),
  chain: z.object({
    chainId: z.number().int().nullable(),
    contractAddress: hex.nullable(),
    /** The chain's head when the snapshot was taken (null if RPC_URL did not answer). */
    headAtBackup: z.number().int().nullable(),
  }),
  index: z.object({
    /** The SubQuery node's last processed block in the dump: it re-indexes from here. */
    lastProcessedHeight: z.number().int().nullable(),
    targetHeight: z.number().int().nullable(),
    genesisHash: z.string().nullable(),
    /**
     * Orders and order events in the index at the snapshot: current rows only (the index keeps
     * every version of a row for time travel). Absent in backups taken before it was recorded.
     */
    orders: z.number().int().nonnegative().optional(),
    orderEvents: z.number().int().nonnegative().optional(),
  }),
  oracle: z.object({
    paymentRequests: z.record(z.string(), z.number().int()),
    payouts: z.record(z.string(), z.number().int()),
    /** Highest block of an on-chain record the oracle had confirmed, and what was still to send. */
    lastConfirmedRecordBlock: z.number().int().nullable(),
    outboxUnconfirmed: z.number().int(),
    lastPullAt: z.string().nullable(),
  }),
});
export type Manifest = z.infer<typeof manifestSchema>;

export function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (d) => hash.update(d)).on('error', reject).on('end', () => resolvePromise(hash.digest('hex')));
  });
}
