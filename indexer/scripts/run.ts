/**
 * `npm run indexer`: codegen/build if needed, then run `subql-node-ethereum` against
 * DATABASE_URL (or the embedded Postgres of `npm start`) and the configured chain, with
 * the node's progress on stdout. Ctrl-C stops it.
 *
 * Target: INDEXER_CONTRACT_ADDRESS (+ INDEXER_START_BLOCK, CHAIN_ID) when set, otherwise
 * the deployment file the dev chain writes (DEPLOYMENT_FILE).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Deployment } from '@descrow/contracts';
import { ConfigError, ensureDatabase, env, loadConfigOrExit, parseEnv, Pool, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '@descrow/common';
import { dropIndex, indexMatchesChain } from './chainMatch';
import type { IndexerTarget } from '../../project';
import { findDeployBlock } from './deployBlock';
import { DEFAULT_NODE_FLAGS, startIndexerNode } from './node';
import { ROOT } from './prepare';

export const indexerEnvShape = {
  DATABASE_URL: z.string().url().optional(),
  EMBEDDED_PG_PORT: env.port(54320),
  RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  CHAIN_ID: z.coerce.number().int().positive().optional(),
  DEPLOYMENT_FILE: z.string().default('sandbox/chain/deployments/local.json'),
  INDEXER_CONTRACT_ADDRESS: env.address().optional(),
  /** First block to index; default: the deployment file's deploy block, or the contract's, found on chain. */
  INDEXER_START_BLOCK: z.coerce.number().int().min(0).optional(),
  /**
   * Blocks behind the head counted final when the RPC has no `finalized` block tag (the node
   * uses the tag where there is one). SubQuery's own default is 200.
   */
  INDEXER_BLOCK_CONFIRMATIONS: z.coerce.number().int().min(0).default(10),
  /**
   * `logs`: serve the node a dictionary of the contract's blocks from the RPC's eth_getLogs
   * (indexer/scripts/dictionary.ts), so it fetches only blocks with our events; `off`: the
   * node fetches every block.
   */
  INDEXER_DICTIONARY: z.enum(['logs', 'off']).default('logs'),
  /** How often the node asks the RPC for the chain's head (ms): new blocks are seen within it. */
  INDEXER_HEAD_POLL_MS: z.coerce.number().int().min(20).default(200),
  /** Largest block range per eth_getLogs call of the dictionary (public RPCs cap it). */
  INDEXER_DICTIONARY_LOG_RANGE: z.coerce.number().int().positive().default(10_000),
  INDEXER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case Postgres identifier').default('descrow_index'),
  INDEXER_NODE_PORT: env.port(3100),
  /** subql-node flags (space separated), replacing the tuned defaults. */
  INDEXER_NODE_FLAGS: z.string().optional(),
  /** Node.js flags for the subql-node process, replacing the default (--stack-trace-limit=1). */
  INDEXER_NODE_ARGS: z.string().optional(),
  /** The address the node's health/metrics port listens on; unset = every interface (the node's own behaviour). `npm start` sets 127.0.0.1. */
  INDEXER_BIND_HOST: z.string().min(1).optional(),
  /** Drop the index and rebuild it from the chain (`npm start -- --reindex`): the chain holds every order, so nothing is lost. */
  INDEXER_REINDEX: env.bool(false),
};

/** Exit code after a one-line explanation on stderr; `npm start` adds nothing to it. */
export const EXIT_EXPLAINED = 78;
export type IndexerEnv = ReturnType<typeof parseEnv<typeof indexerEnvShape>>;

/**
 * Wait for the deployer's file when no contract address is configured (compose starts the
 * indexer's steps beside the deployer), for at most 5 minutes.
 */
export async function waitForDeployment(config: IndexerEnv, say: (line: string) => void, root = ROOT): Promise<void> {
  const file = resolve(root, config.DEPLOYMENT_FILE);
  for (let waited = 0; !config.INDEXER_CONTRACT_ADDRESS && !existsSync(file); waited += 1) {
    if (waited === 0) say(`waiting for ${file} (the deployer writes it)`);
    if (waited > 300) throw new Error(`${file} did not appear within 5 minutes`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * Where to index: explicit variables win over the deployment file. With an address and no
 * start block, the start block is the contract's deploy block, found on chain.
 */
export async function resolveTarget(config: IndexerEnv, root = ROOT): Promise<IndexerTarget> {
  if (config.INDEXER_CONTRACT_ADDRESS) {
    return {
      chainId: String(config.CHAIN_ID ?? 31337),
      rpcUrl: config.RPC_URL,
      contractAddress: config.INDEXER_CONTRACT_ADDRESS,
      startBlock: config.INDEXER_START_BLOCK ?? (await findDeployBlock(config.RPC_URL, config.INDEXER_CONTRACT_ADDRESS)),
    };
  }
  const file = resolve(root, config.DEPLOYMENT_FILE);
  if (!existsSync(file)) {
    throw new ConfigError('DEPLOYMENT_FILE', `names ${file}, which does not exist (run \`npm run sandbox:chain\`, or set INDEXER_CONTRACT_ADDRESS)`);
  }
  const d = JSON.parse(readFileSync(file, 'utf8')) as Deployment;
  if (config.CHAIN_ID !== undefined && config.CHAIN_ID !== d.chainId) {
    throw new ConfigError('CHAIN_ID', `is ${config.CHAIN_ID} but ${config.DEPLOYMENT_FILE} was deployed on chain ${d.chainId}`);
  }
  return {
    chainId: String(d.chainId),
    rpcUrl: config.RPC_URL,
    contractAddress: d.address,
    startBlock: config.INDEXER_START_BLOCK ?? d.deployBlock,
  };
}

async function main() {
  const config = loadConfigOrExit(indexerEnvShape);
  let target: IndexerTarget;
  try {
    target = await resolveTarget(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const say = (line: string) => process.stdout.write(`[indexer] ${line}\n`);
  let embedded: EmbeddedPostgresHandle | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    say(`DATABASE_URL is unset: embedded Postgres on port ${config.EMBEDDED_PG_PORT} (data in .data/pg)`);
    embedded = await startEmbeddedPostgres(resolve(ROOT, '.data/pg'), config.EMBEDDED_PG_PORT);
    databaseUrl = embedded.url.replace(/\/postgres$/, '/descrow');
    await ensureDatabase(databaseUrl);
  }
  const check = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    if (config.INDEXER_REINDEX) {
      say(`re-indexing: dropping schema ${config.INDEXER_DB_SCHEMA}; it is rebuilt from the chain (orders, payments and the oracle's ledger are kept)`);
      await dropIndex(check, config.INDEXER_DB_SCHEMA);
    } else {
      const match = await indexMatchesChain(check, config.INDEXER_DB_SCHEMA, target.rpcUrl, target.chainId);
      if (!match.ok) {
        process.stderr.write(`[indexer] the index in schema ${config.INDEXER_DB_SCHEMA} ${match.problem}: \`npm start -- --reindex\` (or INDEXER_REINDEX=true npm run indexer) rebuilds it from the chain, which holds every order and payment the index showed (the oracle's ledger and the API's data are kept)\n`);
        await check.end();
        await embedded?.stop();
        process.exit(EXIT_EXPLAINED);
      }
    }
  } finally {
    await check.end().catch(() => undefined);
  }
  say(`indexing ${target.contractAddress} on chain ${target.chainId} (${target.rpcUrl}) from block ${target.startBlock} into schema ${config.INDEXER_DB_SCHEMA}`);
  const node = await startIndexerNode({
    bindHost: config.INDEXER_BIND_HOST,
    databaseUrl,
    schema: config.INDEXER_DB_SCHEMA,
    target,
    port: config.INDEXER_NODE_PORT,
    blockConfirmations: config.INDEXER_BLOCK_CONFIRMATIONS,
    headPollMs: config.INDEXER_HEAD_POLL_MS,
    logsDictionary: config.INDEXER_DICTIONARY === 'logs' && { maxLogRange: config.INDEXER_DICTIONARY_LOG_RANGE },
    flags: config.INDEXER_NODE_FLAGS ? config.INDEXER_NODE_FLAGS.split(/\s+/).filter(Boolean) : DEFAULT_NODE_FLAGS,
    execArgv: config.INDEXER_NODE_ARGS ? config.INDEXER_NODE_ARGS.split(/\s+/).filter(Boolean) : undefined,
    onLine: (line) => process.stdout.write(`${line}\n`),
    log: say,
  });
  // The node logs errors only (see DEFAULT_NODE_FLAGS): report progress from its /meta.
  let lastLine = '';
  let lastHeight = -1;
  let lastAt = Date.now();
  const progress = setInterval(async () => {
    const m = await node.meta();
    const height = m?.currentProcessingHeight;
    if (typeof height !== 'number') return;
    const rate = lastHeight >= 0 ? (height - lastHeight) / ((Date.now() - lastAt) / 1000) : 0;
    const line = `at block ${height} of ${m?.targetHeight ?? '?'}${rate > 0.5 ? ` (${Math.round(rate)} blocks/s)` : ''}`;
    if (line !== lastLine) say(line);
    lastLine = line;
    lastHeight = height;
    lastAt = Date.now();
  }, 10_000);
  progress.unref();
  // Stopped quietly: whoever stops us (npm start, or Ctrl-C) says so.
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(progress);
    await node.stop();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  node.process.once('exit', async (code) => {
    if (stopping) return;
    say(`subql-node exited with ${code}`);
    await embedded?.stop();
    process.exit(code ?? 1);
  });
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`[indexer] ${e.message}`);
    process.exit(1);
  });
}
