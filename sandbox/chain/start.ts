/**
 * `npm run sandbox:chain`: start anvil (unless a chain already answers at RPC_URL),
 * deploy the escrow, write the deployment file, print what it did, and keep the chain
 * running until Ctrl-C. Run twice: same chain, same contract.
 *
 * Roles come from ESCROW_OWNER / ESCROW_ORACLE / ESCROW_ARBITER / ESCROW_TREASURY and the
 * deployer key from DEPLOYER_PRIVATE_KEY or DEPLOYER_KEY_FILE; unset, the dev roles
 * (anvil's public accounts), which deployEscrow refuses on any chain but the dev chain.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Address, Hex } from 'viem';
import { z } from 'zod';
import { DEV_ROLES, env, loadConfigOrExit, rpcAnswers, startAnvil, type AnvilHandle } from '@descrow/common';
import { deployEscrow } from './deploy';

const config = loadConfigOrExit({
  RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  CHAIN_BLOCK_TIME: env.int(1), // seconds between blocks; 0 = a block per transaction
  DEPLOYMENT_FILE: z.string().default('sandbox/chain/deployments/local.json'),
  ESCROW_FEE_BPS: z.coerce.number().int().min(0).max(1000).default(250),
  CHAIN_STATE_FILE: z.string().default('.data/anvil/state.json'),
  /** The address anvil listens on (127.0.0.1: anvil's dev keys are public). */
  CHAIN_HOST: z.string().min(1).default('127.0.0.1'),
  DEPLOYER_PRIVATE_KEY: env.privateKey().optional(),
  /** A file holding the deployer's 0x-prefixed private key (e.g. a mounted secret). */
  DEPLOYER_KEY_FILE: z.string().optional(),
  ESCROW_OWNER: env.address().optional(),
  ESCROW_ORACLE: env.address().optional(),
  ESCROW_ARBITER: env.address().optional(),
  ESCROW_TREASURY: env.address().optional(),
});

function deployerKey(): Hex | undefined {
  if (config.DEPLOYER_PRIVATE_KEY) return config.DEPLOYER_PRIVATE_KEY as Hex;
  if (!config.DEPLOYER_KEY_FILE) return undefined;
  const key = readFileSync(config.DEPLOYER_KEY_FILE, 'utf8').trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error(`DEPLOYER_KEY_FILE ${config.DEPLOYER_KEY_FILE} does not hold a 0x-prefixed 32-byte hex private key`);
  return key as Hex;
}

async function main() {
  // In production (e.g. compose's sandbox profile) the oracle runs with its own key: the
  // contract must name that key's address, never anvil's account 1.
  if (process.env.NODE_ENV === 'production' && !config.ESCROW_ORACLE) throw new Error('ESCROW_ORACLE is unset: with NODE_ENV=production the oracle role must be the address of your ORACLE_PRIVATE_KEY');
  const started = Date.now();
  const root = resolve(__dirname, '../..');
  let anvil: AnvilHandle | undefined;
  if (await rpcAnswers(config.RPC_URL)) {
    console.log(`chain: using the node already answering at ${config.RPC_URL}`);
  } else {
    const url = new URL(config.RPC_URL);
    if (!['127.0.0.1', 'localhost'].includes(url.hostname)) throw new Error(`no chain answers at ${config.RPC_URL}`);
    const stateFile = resolve(root, config.CHAIN_STATE_FILE);
    mkdirSync(dirname(stateFile), { recursive: true });
    anvil = await startAnvil({
      port: Number(url.port || 8545),
      host: config.CHAIN_HOST,
      chainId: config.CHAIN_ID,
      blockTime: config.CHAIN_BLOCK_TIME || undefined,
      // Chain state survives restarts (dumped every 5 s and on exit), like the index in
      // .data/pg, with the same genesis block every time (common/src/anvilState.ts).
      stateFile,
    });
    if (anvil.staleGenesisDropped) console.log(`chain: removed ${anvil.staleGenesisDropped} stale genesis block(s) that earlier starts left in ${config.CHAIN_STATE_FILE}`);
    console.log(`chain: anvil started on ${anvil.url} (chain ${config.CHAIN_ID}, ${config.CHAIN_BLOCK_TIME ? `${config.CHAIN_BLOCK_TIME}s blocks` : 'a block per tx'})`);
  }
  const { deployment, reused } = await deployEscrow({
    rpcUrl: config.RPC_URL,
    deploymentFile: resolve(root, config.DEPLOYMENT_FILE),
    feeBps: config.ESCROW_FEE_BPS,
    deployerKey: deployerKey(),
    roles: {
      owner: (config.ESCROW_OWNER ?? DEV_ROLES.owner.address) as Address,
      oracle: (config.ESCROW_ORACLE ?? DEV_ROLES.oracle.address) as Address,
      arbiter: (config.ESCROW_ARBITER ?? DEV_ROLES.arbiter.address) as Address,
      treasury: (config.ESCROW_TREASURY ?? DEV_ROLES.treasury.address) as Address,
    },
    log: (l) => console.log(`chain: ${l}`),
  });
  console.log(`chain: deployment file ${config.DEPLOYMENT_FILE}${reused ? ' (unchanged)' : ''}`);
  console.log(`chain: roles owner=${deployment.roles.owner} oracle=${deployment.roles.oracle} arbiter=${deployment.roles.arbiter} treasury=${deployment.roles.treasury}`);
  if (deployment.chainId === 31337) console.log(`chain: dev buyer=${DEV_ROLES.buyer.address} seller=${DEV_ROLES.seller.address}`);
  console.log(`chain: ready in ${Date.now() - started} ms`);
  if (!anvil) return;
  // Stopped quietly: whoever stops us (npm start, or Ctrl-C) says so. anvil writes the state on exit.
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= anvil!.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`chain: ${err.message}`);
  process.exit(1);
});
