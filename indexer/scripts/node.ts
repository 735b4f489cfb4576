/**
 * Starts the real `subql-node-ethereum` as a child process against one Postgres
 * database/schema and one chain, and watches its progress in the `_metadata` table.
 * Used by `npm run indexer`, the integration tests and the benchmark alike.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Pool, createPool, freePort, pgUrlParts } from '@descrow/common';
import type { IndexerTarget } from '../../project';
import { startLogsDictionary, type LogsDictionary } from './dictionary';
import { prepareIndexer, writeRunProject, type Log } from './prepare';

export interface IndexerNodeOptions {
  databaseUrl: string;
  /** Postgres schema of the index (also the `--name` the query service needs). */
  schema: string;
  target: IndexerTarget;
  /** Writes the project to run and returns its manifest (default: this repository's, writeRunProject). */
  project?: (target: IndexerTarget, name: string) => string | Promise<string>;
  /** Extra node flags, e.g. ['--batch-size=50']. */
  flags?: string[];
  /** Port of the node's own health/metrics server (a free one by default). */
  port?: number;
  /** Flags for Node.js itself (default DEFAULT_NODE_EXEC_ARGV). */
  execArgv?: string[];
  /**
   * Serve the node a dictionary of the contract's blocks from the RPC's eth_getLogs
   * (./dictionary), so it skips blocks without our logs: `true`, or the largest block range
   * per eth_getLogs call. Default: none (every block is fetched).
   */
  logsDictionary?: boolean | { maxLogRange: number };
  /**
   * Blocks behind the head the node counts final when the RPC has no `finalized` tag
   * (`--block-confirmations`; SubQuery's default is 200). The tag wins where there is one.
   */
  blockConfirmations?: number;
  /**
   * How often the node asks the RPC for the chain's head, in ms (`--head-poll-interval`,
   * patched in; the node's own is a fixed 5 s): a new block is seen within this time.
   */
  headPollMs?: number;
  /** Extra environment of the node process, e.g. PGOPTIONS. */
  env?: Record<string, string>;
  /** The address the node's health/metrics server listens on (default: every interface, as the node does). */
  bindHost?: string;
  /** Every output line of the node. */
  onLine?: (line: string) => void;
  log?: Log;
}

/** The part of the node's `/meta` we read: where it is, and where the chain is. */
export interface NodeMeta {
  currentProcessingHeight?: number;
  targetHeight?: number;
  bestHeight?: number;
}

export interface IndexerNode {
  process: ChildProcess;
  schema: string;
  /** The dictionary served to the node, when logsDictionary was asked for. */
  dictionary?: LogsDictionary;
  pool: Pool;
  /** Last block height the node has processed and flushed, or -1. */
  processedHeight(): Promise<number>;
  /**
   * The block the node is processing right now (its own `/meta`, in memory, ahead of what
   * is flushed to Postgres), or -1 while it is starting.
   */
  processingHeight(): Promise<number>;
  /** The node's own view of where it is and where the chain is (`/meta`), or undefined while starting. */
  meta(): Promise<NodeMeta | undefined>;
  /** Resolves when processedHeight ≥ height; rejects if the node dies or time runs out. */
  waitForHeight(height: number, timeoutMs?: number, onProgress?: (h: number) => void): Promise<void>;
  /** Output lines seen so far (the last few hundred). */
  output(): string[];
  stop(): Promise<void>;
}

/**
 * Node flags that made indexing faster on 2 cores (see docs/benchmarks.md):
 * - batches of 500 blocks: the node's fetch loop sleeps a whole second whenever its queue
 *   (3 × batch size) has no room for another batch, which caps indexing at ~3 × batch
 *   size blocks/s (the default 10 caps it at ~30; 200 at ~600);
 * - log errors only: the node logs a warning for every log it hands to a handler without
 *   an ABI (ours decode their own, see project.ts), which cost ~25 % at one event per block.
 *   Progress is reported by the runner from the node's /meta instead;
 * - flush every block synchronously only from the block before the chain's head (default:
 *   10 blocks before), so a backfill keeps flushing in the background until it is there.
 *   Not 0: node-core then drops the head block's forced flush when another is queued.
 */
export const DEFAULT_NODE_FLAGS = ['--batch-size=500', '--log-level=error', '--store-cache-target=1'];
/**
 * The head poll (ms): with the API's own 200 ms watch of the index, an event is visible
 * within a second of its block (docs/benchmarks.md, "Freshness"); two small RPC calls each.
 */
export const DEFAULT_HEAD_POLL_MS = 200;
/**
 * Node.js flags for the node process. Every value crossing the handler sandbox (vm2)
 * makes it build, throw and catch an Error, and @subql/node-core allocates Errors in hot
 * getters: capturing one stack frame instead of ten made indexing ~40 % faster.
 * Error messages and the top frame are kept.
 */
export const DEFAULT_NODE_EXEC_ARGV = ['--stack-trace-limit=1'];
/**
 * The node fetches a dictionary registry from GitHub at every start (an ERROR line
 * offline). Our own chains have no dictionary: an empty registry, inline, needs no network.
 */
export const OFFLINE_DICTIONARY_FLAG = '--dictionary-registry=data:application/json,{"ethereum":{}}';

const NODE_BIN = () => resolve(require.resolve('@subql/node-ethereum/package.json'), '../bin/run');

/** Node.js flags and environment that make a SubQuery process listen on `host` (./bindHost.cjs). */
export function bindHostArgs(host: string | undefined): { execArgv: string[]; env: Record<string, string> } {
  return host ? { execArgv: ['--require', resolve(__dirname, 'bindHost.cjs')], env: { INDEXER_BIND_HOST: host } } : { execArgv: [], env: {} };
}

/**
 * Two warnings the node prints at every start that need no action, each replaced by one
 * line saying why (docs/operations.md, "A quiet console"); the rest of their text is dropped.
 */
const NOISE: [RegExp, string | null][] = [
  [/^@polkadot\/util has multiple versions/, 'note: @polkadot/util 13 and 14 are both installed (@subql/utils pins 13.5.9, @polkadot/wasm-crypto takes the newest); the node works with both'],
  [/^Either remove and explicitly install matching versions|^The following conflicting packages were found:|^\s+(cjs|esm) \d+\.\d+\.\d+\s+node_modules\/.*@polkadot\//, null],
  [/DeprecationWarning: Calling client\.query\(\) when the client is already executing a query/, 'note: pg 8 warns that the SubQuery node queues queries on one client (an API pg 9 removes); harmless with the pinned pg 8'],
  [/^\(Use `node --trace-deprecation/, null],
];
export function explainNoise(line: string): string | null {
  for (const [pattern, replacement] of NOISE) if (pattern.test(line)) return replacement;
  return line;
}

export async function ensureExtensions(databaseUrl: string): Promise<void> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    // Historical mode needs btree_gist for its block-range exclusion constraints.
    await pool.query('CREATE EXTENSION IF NOT EXISTS btree_gist').catch((e: { code?: string }) => {
      if (e.code !== '23505' && e.code !== '42710') throw e; // created concurrently
    });
  } finally {
    await pool.end();
  }
}

export async function startIndexerNode(opts: IndexerNodeOptions): Promise<IndexerNode> {
  const log = opts.log ?? (() => undefined);
  await prepareIndexer(log);
  await ensureExtensions(opts.databaseUrl);
  let dictionary: LogsDictionary | undefined;
  let target = opts.target;
  const registry: string[] = [];
  if (opts.logsDictionary) {
    dictionary = await startLogsDictionary({
      rpcUrl: target.rpcUrl,
      chainId: target.chainId,
      startBlock: target.startBlock,
      maxLogRange: typeof opts.logsDictionary === 'object' ? opts.logsDictionary.maxLogRange : undefined,
    });
    target = { ...target, dictionary: [dictionary.url] };
    // It also answers the registry lookup (no other dictionaries), which otherwise goes to the
    // internet. Ranges of 100,000 blocks per query (default 10,000): an answer holds at most
    // a batch of blocks anyway, and a sparse chain needs fewer round trips (docs/benchmarks.md).
    registry.push(`--dictionary-registry=${dictionary.url}`, '--dictionary-query-size=100000');
  }
  const manifest = await (opts.project ?? writeRunProject)(target, opts.schema);
  const db = pgUrlParts(opts.databaseUrl);
  const port = opts.port ?? (await freePort());
  const bind = bindHostArgs(opts.bindHost);
  const args = [
    ...(opts.execArgv ?? DEFAULT_NODE_EXEC_ARGV),
    ...bind.execArgv,
    NODE_BIN(),
    `-f=${manifest}`,
    `--db-schema=${opts.schema}`,
    `--network-endpoint=${opts.target.rpcUrl}`,
    `--port=${port}`,
    '--output-fmt=colored',
    ...registry,
    ...(opts.blockConfirmations !== undefined ? [`--block-confirmations=${opts.blockConfirmations}`] : []),
    `--head-poll-interval=${opts.headPollMs ?? DEFAULT_HEAD_POLL_MS}`,
    ...(opts.flags ?? DEFAULT_NODE_FLAGS),
  ];
  if (!args.some((a) => a.startsWith('--dictionary-registry'))) args.push(OFFLINE_DICTIONARY_FLAG);
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      TZ: 'UTC',
      DB_HOST: db.host,
      DB_PORT: String(db.port),
      DB_USER: db.user,
      DB_PASS: db.password,
      DB_DATABASE: db.database,
      ...bind.env,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const raw of chunk.toString().split('\n')) {
      // The handlers decode logs themselves (see project.ts); the node says so per log.
      if (!raw.trim() || raw.includes('No ABI provided for datasource')) continue;
      const line = explainNoise(raw);
      if (line === null) continue;
      lines.push(line);
      if (lines.length > 500) lines.shift();
      opts.onLine?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  // createPool: a connection cut while the pool shuts down (DROP DATABASE … FORCE right after
  // stop(); pg-pool's end() resolves before its clients have closed) must not crash the caller.
  const pool = createPool(opts.databaseUrl, 'descrow-indexer-runner', { max: 2 });
  const processedHeight = async (): Promise<number> => {
    try {
      const { rows } = await pool.query<{ value: unknown }>(
        `SELECT value FROM "${opts.schema}"._metadata WHERE key = 'lastProcessedHeight'`,
      );
      return rows[0] ? Number(rows[0].value) : -1;
    } catch (e) {
      if ((e as { code?: string }).code === '42P01' || (e as { code?: string }).code === '3F000') return -1; // not created yet
      throw e;
    }
  };

  const meta = async (): Promise<NodeMeta | undefined> => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/meta`);
      return res.ok ? ((await res.json()) as NodeMeta) : undefined;
    } catch {
      return undefined; // not listening yet
    }
  };
  const processingHeight = async (): Promise<number> => {
    const m = await meta();
    return typeof m?.currentProcessingHeight === 'number' ? m.currentProcessingHeight : -1;
  };

  return {
    process: child,
    schema: opts.schema,
    dictionary,
    pool,
    processedHeight,
    processingHeight,
    meta,
    output: () => [...lines],
    async waitForHeight(height, timeoutMs = 120_000, onProgress) {
      const deadline = Date.now() + timeoutMs;
      let last = -2;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`subql-node exited with ${child.exitCode}:\n${lines.slice(-40).join('\n')}`);
        const h = await processedHeight();
        if (h !== last) onProgress?.(h);
        last = h;
        if (h >= height) return;
        if (Date.now() > deadline) throw new Error(`indexer reached ${h}, not ${height}, within ${timeoutMs} ms:\n${lines.slice(-40).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await pool.end();
      await dictionary?.stop();
      rmSync(dirname(manifest), { recursive: true, force: true });
    },
  };
}
