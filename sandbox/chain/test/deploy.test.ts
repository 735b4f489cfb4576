/** The deployer: dev roles on the dev chain, a deployment file, idempotence; on any other chain, roles from settings and no anvil keys. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createPublicClient, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { DEV_ROLES, startAnvil, type AnvilHandle } from '@descrow/common';
import { escrowAbi } from '@descrow/contracts';
import { deployEscrow } from '../deploy';

const ROOT = resolve(__dirname, '../../..');

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

test('with NODE_ENV=production the deployer needs ESCROW_ORACLE, even on the dev chain (compose runs the oracle with its own key)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'descrow-deploy-'));
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'sandbox/chain/start.ts')], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH, TZ: 'UTC', NODE_ENV: 'production', RPC_URL: anvil.url, DEPLOYMENT_FILE: join(dir, 'deployment.json') },
  });
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toEqual(['chain: ESCROW_ORACLE is unset: with NODE_ENV=production the oracle role must be the address of your ORACLE_PRIVATE_KEY']);
  expect(existsSync(join(dir, 'deployment.json'))).toBe(false);
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

describe('on a chain that is not the dev chain (chain id 1337)', () => {
  let foreign: AnvilHandle;
  beforeAll(async () => { foreign = await startAnvil({ chainId: 1337 }); });
  afterAll(async () => { await foreign?.stop(); });
  const pub = () => createPublicClient({ transport: http(foreign.url), cacheTime: 0 });
  const fund = async (address: string) => {
    await fetch(foreign.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [address, '0x56bc75e2d63100000'] }) });
  };
  const roles = () => ({ owner: privateKeyToAccount(generatePrivateKey()).address, oracle: privateKeyToAccount(generatePrivateKey()).address, arbiter: privateKeyToAccount(generatePrivateKey()).address, treasury: privateKeyToAccount(generatePrivateKey()).address });

  test("anvil's public keys and accounts are refused before anything is sent", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'descrow-deploy-')), 'real.json');
    await expect(deployEscrow({ rpcUrl: foreign.url, deploymentFile: file })).rejects.toThrow(/chain 1337 is not the dev chain \(31337\): the deployer key is one of anvil's public keys; set DEPLOYER_PRIVATE_KEY or DEPLOYER_KEY_FILE/);
    const key = generatePrivateKey();
    await fund(privateKeyToAccount(key).address);
    await expect(deployEscrow({ rpcUrl: foreign.url, deploymentFile: file, deployerKey: key, roles: { ...roles(), arbiter: DEV_ROLES.arbiter.address } }))
      .rejects.toThrow(`the arbiter is anvil's public account ${DEV_ROLES.arbiter.address}; set ESCROW_ARBITER`);
    expect(await pub().getBlockNumber()).toBe(0n); // no transaction at all
    expect(existsSync(file)).toBe(false);
  });

  test('npm run sandbox:chain takes the roles from settings and the deployer key from a key file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'descrow-deploy-'));
    const key = generatePrivateKey();
    await fund(privateKeyToAccount(key).address);
    writeFileSync(join(dir, 'deployer.key'), `${key}\n`, { mode: 0o600 });
    const r = roles();
    const run = (extra: Record<string, string>) => spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'sandbox/chain/start.ts')], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000,
      env: { PATH: process.env.PATH, TZ: 'UTC', NODE_ENV: 'test', RPC_URL: foreign.url, CHAIN_ID: '1337', DEPLOYMENT_FILE: join(dir, 'deployment.json'), DEPLOYER_KEY_FILE: join(dir, 'deployer.key'), ...extra },
    });
    // One role left unset: it would default to anvil's account, so the start stops naming the setting.
    const refused = run({ ESCROW_OWNER: r.owner, ESCROW_ORACLE: r.oracle, ESCROW_TREASURY: r.treasury });
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^chain: chain 1337 is not the dev chain .*set ESCROW_ARBITER$/)]);
    expect(await pub().getBlockNumber()).toBe(0n);

    const ok = run({ ESCROW_OWNER: r.owner, ESCROW_ORACLE: r.oracle, ESCROW_ARBITER: r.arbiter, ESCROW_TREASURY: r.treasury });
    expect([ok.status, ok.stderr]).toEqual([0, '']);
    const deployment = JSON.parse(readFileSync(join(dir, 'deployment.json'), 'utf8'));
    expect(deployment).toMatchObject({ chainId: 1337, roles: r });
    const read = (functionName: 'owner' | 'oracle' | 'arbiter' | 'treasury') => pub().readContract({ address: deployment.address, abi: escrowAbi, functionName });
    expect({ owner: await read('owner'), oracle: await read('oracle'), arbiter: await read('arbiter'), treasury: await read('treasury') }).toEqual(r);
  }, 90_000);
});
