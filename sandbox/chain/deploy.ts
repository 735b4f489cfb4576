/**
 * Deploys the escrow contract with the dev roles and writes the deployment file that
 * the indexer, oracle and API read. Idempotent: if the file names a contract whose code
 * is on this chain, nothing is sent and the same file is returned.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPublicClient, createWalletClient, getAddress, http, keccak256, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { escrowAbi, escrowBytecode, type Deployment } from '@descrow/contracts';
import { chainFor, DEV_CHAIN_ID, DEV_ROLES, isAnvilAddress, isAnvilKey } from '@descrow/common';

export interface DeployOptions {
  rpcUrl: string;
  deploymentFile?: string;
  deployerKey?: Hex;
  roles?: { owner: Address; oracle: Address; arbiter: Address; treasury: Address };
  feeBps?: number;
  /** Shipping / confirmation windows in seconds (contract defaults: 7 d / 3 d). */
  windows?: { shipping: number; confirmation: number };
  log?: (line: string) => void;
}

export interface DeployResult { deployment: Deployment; reused: boolean }

export async function deployEscrow(opts: DeployOptions): Promise<DeployResult> {
  const log = opts.log ?? (() => undefined);
  const publicClient = createPublicClient({ transport: http(opts.rpcUrl), cacheTime: 0 });
  const chainId = await publicClient.getChainId();
  const runtimeHash = keccak256(deployedBytecode());

  if (opts.deploymentFile && existsSync(opts.deploymentFile)) {
    const prior = JSON.parse(readFileSync(opts.deploymentFile, 'utf8')) as Deployment;
    if (prior.chainId === chainId) {
      const code = await publicClient.getCode({ address: prior.address });
      if (code && keccak256(code) === runtimeHash) {
        log(`escrow already deployed at ${prior.address} (block ${prior.deployBlock}); nothing to do`);
        return { deployment: prior, reused: true };
      }
      log(`deployment file names ${prior.address} but this chain has other code there: deploying again`);
    }
  }

  const deployerKey = opts.deployerKey ?? DEV_ROLES.owner.privateKey;
  const roles = opts.roles ?? {
    owner: DEV_ROLES.owner.address,
    oracle: DEV_ROLES.oracle.address,
    arbiter: DEV_ROLES.arbiter.address,
    treasury: DEV_ROLES.treasury.address,
  };
  // Anywhere but the dev chain anvil's public keys are everyone's: refuse them before anything is sent.
  if (chainId !== DEV_CHAIN_ID) {
    if (isAnvilKey(deployerKey)) throw new Error(`chain ${chainId} is not the dev chain (${DEV_CHAIN_ID}): the deployer key is one of anvil's public keys; set DEPLOYER_PRIVATE_KEY or DEPLOYER_KEY_FILE`);
    for (const [role, address] of Object.entries(roles)) {
      if (isAnvilAddress(address)) throw new Error(`chain ${chainId} is not the dev chain (${DEV_CHAIN_ID}): the ${role} is anvil's public account ${address}; set ESCROW_${role.toUpperCase()}`);
    }
  }
  const deployer = privateKeyToAccount(deployerKey);
  const feeBps = opts.feeBps ?? 250;
  const chain = chainFor(opts.rpcUrl, chainId);
  const wallet = createWalletClient({ account: deployer, chain, transport: http(opts.rpcUrl) });

  // The deployer becomes owner for set-up, then hands ownership to the configured owner.
  const hash = await wallet.deployContract({ abi: escrowAbi, bytecode: escrowBytecode, args: [deployer.address, roles.oracle, roles.arbiter, feeBps] });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`escrow deployment reverted (tx ${hash})`);
  const address = getAddress(receipt.contractAddress);
  const send = async (functionName: 'setTreasury' | 'setOwner' | 'setWindows', args: readonly unknown[]) => {
    const h = await wallet.writeContract({ address, abi: escrowAbi, functionName, args } as never);
    const r = await publicClient.waitForTransactionReceipt({ hash: h, pollingInterval: 50 });
    if (r.status !== 'success') throw new Error(`${functionName} reverted (tx ${h})`);
  };
  if (opts.windows) await send('setWindows', [opts.windows.shipping, opts.windows.confirmation]);
  if (roles.treasury.toLowerCase() !== deployer.address.toLowerCase()) await send('setTreasury', [roles.treasury]);
  if (roles.owner.toLowerCase() !== deployer.address.toLowerCase()) await send('setOwner', [roles.owner]);
  // Dev chain only: an oracle key of your own starts with no gas; give it some.
  if (chainId === DEV_CHAIN_ID && (await publicClient.getBalance({ address: roles.oracle })) === 0n) {
    const h = await wallet.sendTransaction({ to: roles.oracle, value: 100n * 10n ** 18n });
    await publicClient.waitForTransactionReceipt({ hash: h, pollingInterval: 50 });
  }

  const deployment: Deployment = {
    chainId,
    rpcUrl: opts.rpcUrl,
    address,
    deployBlock: Number(receipt.blockNumber),
    deployTxHash: hash,
    bytecodeHash: runtimeHash,
    roles,
    feeBps,
    deployedAt: new Date().toISOString(),
  };
  if (opts.deploymentFile) {
    mkdirSync(dirname(opts.deploymentFile), { recursive: true });
    writeFileSync(opts.deploymentFile, JSON.stringify(deployment, null, 2) + '\n');
  }
  log(`escrow deployed at ${address} in block ${deployment.deployBlock} (chain ${chainId}, fee ${feeBps} bps)`);
  return { deployment, reused: false };
}

function deployedBytecode(): Hex {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const artifact = require('@descrow/contracts/artifacts/Escrow.json') as { deployedBytecode: Hex };
  return artifact.deployedBytecode;
}

export function readDeployment(file: string): Deployment {
  if (!existsSync(file)) throw new Error(`no deployment file at ${file}: run \`npm run sandbox:chain\` first`);
  return JSON.parse(readFileSync(file, 'utf8')) as Deployment;
}
