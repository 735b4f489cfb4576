/**
 * `npm run sandbox:chain`: start anvil (unless a chain already answers at RPC_URL),
 * deploy the escrow with the dev roles, write the deployment file, print what it did,
 * and keep the chain running until Ctrl-C. Run twice: same chain, same contract.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
});

async function main() {
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
      chainId: config.CHAIN_ID,
      blockTime: config.CHAIN_BLOCK_TIME || undefined,
      // Chain state survives restarts (dumped every 5 s and on exit), like the index in .data/pg.
      extraArgs: ['--state', stateFile, '--state-interval', '5'],
    });
    console.log(`chain: anvil started on ${anvil.url} (chain ${config.CHAIN_ID}, ${config.CHAIN_BLOCK_TIME ? `${config.CHAIN_BLOCK_TIME}s blocks` : 'a block per tx'})`);
  }
  const { deployment, reused } = await deployEscrow({
    rpcUrl: config.RPC_URL,
    deploymentFile: resolve(root, config.DEPLOYMENT_FILE),
    feeBps: config.ESCROW_FEE_BPS,
    log: (l) => console.log(`chain: ${l}`),
  });
  console.log(`chain: deployment file ${config.DEPLOYMENT_FILE}${reused ? ' (unchanged)' : ''}`);
  console.log(`chain: roles owner=${deployment.roles.owner} oracle=${deployment.roles.oracle} arbiter=${deployment.roles.arbiter} treasury=${deployment.roles.treasury}`);
  console.log(`chain: dev buyer=${DEV_ROLES.buyer.address} seller=${DEV_ROLES.seller.address}`);
  console.log(`chain: ready in ${Date.now() - started} ms`);
  if (!anvil) return;
  const stop = async () => {
    console.log('chain: stopping anvil');
    await anvil!.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`chain: ${err.message}`);
  process.exit(1);
});
