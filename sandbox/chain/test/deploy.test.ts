/** The dev-chain deployer: a contract with the dev roles, a deployment file, and idempotence. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, http } from 'viem';
import { DEV_ROLES, startAnvil, type AnvilHandle } from '@descrow/common';
import { escrowAbi } from '@descrow/contracts';
import { deployEscrow } from '../deploy';

let anvil: AnvilHandle;
beforeAll(async () => { anvil = await startAnvil(); });
afterAll(async () => { await anvil?.stop(); });

test('deploys with the dev roles, writes the deployment file, and a second run changes nothing', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'descrow-deploy-')), 'local.json');
  const started = Date.now();
  const first = await deployEscrow({ rpcUrl: anvil.url, deploymentFile: file, feeBps: 250 });
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(first.reused).toBe(false);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first.deployment);
  expect(first.deployment).toMatchObject({ chainId: 31337, feeBps: 250, roles: { oracle: DEV_ROLES.oracle.address, arbiter: DEV_ROLES.arbiter.address } });

  const pub = createPublicClient({ transport: http(anvil.url), cacheTime: 0 });
  const read = (functionName: 'owner' | 'oracle' | 'arbiter' | 'treasury') => pub.readContract({ address: first.deployment.address, abi: escrowAbi, functionName });
  expect(await read('owner')).toBe(DEV_ROLES.owner.address);
  expect(await read('oracle')).toBe(DEV_ROLES.oracle.address);
  expect(await read('arbiter')).toBe(DEV_ROLES.arbiter.address);
  expect(await read('treasury')).toBe(DEV_ROLES.treasury.address);

  const blockBefore = await pub.getBlockNumber();
  const second = await deployEscrow({ rpcUrl: anvil.url, deploymentFile: file });
  expect(second.reused).toBe(true);
  expect(second.deployment).toEqual(first.deployment);
  expect(await pub.getBlockNumber()).toBe(blockBefore); // nothing was sent
});

test('after the chain was reset (fresh anvil, same chain id) the stale file is not trusted: it deploys again', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'descrow-deploy-')), 'local.json');
  const old = await startAnvil();
  await deployEscrow({ rpcUrl: old.url, deploymentFile: file });
  await old.stop();
  const fresh = await startAnvil();
  try {
    const b = await deployEscrow({ rpcUrl: fresh.url, deploymentFile: file, windows: { shipping: 7_200, confirmation: 3_600 } });
    expect(b.reused).toBe(false);
    const pub = createPublicClient({ transport: http(fresh.url), cacheTime: 0 });
    expect(await pub.getCode({ address: b.deployment.address })).toBeTruthy();
    expect(await pub.readContract({ address: b.deployment.address, abi: escrowAbi, functionName: 'shippingWindow' })).toBe(7_200);
    expect(JSON.parse(readFileSync(file, 'utf8')).deployTxHash).toBe(b.deployment.deployTxHash);
  } finally {
    await fresh.stop();
  }
});
