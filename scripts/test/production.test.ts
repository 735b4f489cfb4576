/**
 * Outside development every service refuses the public development values at start-up.
 * Each case spawns the real entry point (as `npm run oracle` / `npm run api` do) with a
 * complete, safe production environment except for ONE setting, and checks that the
 * process exits 1 with exactly one line on stderr naming that setting. The control case
 * (nothing unsafe) gets past the check and fails later, on the unreachable database.
 *
 * Issue 25: development is decided from the chain the RPC really serves too. With NODE_ENV,
 * CHAIN_ID and every secret unset, a service pointed at a real anvil serving a chain id that
 * is not a dev chain (Polkadot Hub TestNet's) refuses the public development secrets; one
 * pointed at anvil's dev chain still starts with them; an RPC that does not answer cannot
 * confirm development, so the secrets are refused then too.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, startAnvil, type AnvilHandle } from '@descrow/common';

const ROOT = resolve(__dirname, '../..');
const secret = () => randomBytes(24).toString('hex'); // 48 characters

interface Run { status: number | null; stdout: string; stderr: string }
function run(entry: string, env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((done) => {
    const clean = Object.fromEntries(Object.entries({ PATH: process.env.PATH, TZ: 'UTC', LOG_LEVEL: 'error', ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, entry)], { cwd: ROOT, env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

/** At most `n` processes at a time (the machine has 2 cores). */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

// Nothing listens on port 1: a service that passes the check stops on its database instead.
const unreachable = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1' };

const oracleSafe = {
  NODE_ENV: 'production', ...unreachable,
  ORACLE_CALLBACK_TOKEN: secret(), ORACLE_SERVICE_TOKEN: secret(), ORACLE_PRIVATE_KEY: generatePrivateKey(),
  MPESA_BASE_URL: 'https://api.safaricom.co.ke', MPESA_CONSUMER_KEY: secret(), MPESA_CONSUMER_SECRET: secret(),
  MPESA_PASSKEY: secret(), MPESA_INITIATOR_PASSWORD: secret(), ORACLE_CALLBACK_ALLOWED_IPS: '196.201.214.200,196.201.214.206',
  ESCROW_ADDRESS: privateKeyToAccount(generatePrivateKey()).address,
  ORACLE_PUBLIC_URL: 'https://pay.example.com/descrow', MPESA_CERTIFICATE_PATH: join(ROOT, 'sandbox/daraja/certs/simulator-cert.cer'),
};
const apiSafe = {
  NODE_ENV: 'production', ...unreachable,
  JWT_SECRET: secret(), ORACLE_SERVICE_TOKEN: secret(), LOGIN_DOMAIN: 'shop.example.com', LOGIN_URI: 'https://shop.example.com',
  ADMIN_ADDRESSES: privateKeyToAccount(generatePrivateKey()).address, ESCROW_ADDRESS: privateKeyToAccount(generatePrivateKey()).address,
  ORACLE_ADDRESS: privateKeyToAccount(generatePrivateKey()).address, KYC_ENCRYPTION_KEYS: `2026-01:${secret()}`,
};

/** Filled in beforeAll: anvil serving a chain that is not a dev chain, anvil's dev chain, and nothing. */
const RPC = { real: 'rpc:real', dev: 'rpc:dev', silent: 'http://127.0.0.1:1' };
/** Nothing set but where things are: every setting left to its development default. */
const bare = (rpc: string) => ({ NODE_ENV: undefined, CHAIN_ID: undefined, ...unreachable, REDIS_URL: undefined, RPC_URL: rpc });

type Case = [service: 'oracle' | 'api', change: Record<string, string | undefined>, variable: string, problem: RegExp];
const cases: Case[] = [
  ['oracle', { ORACLE_CALLBACK_TOKEN: undefined }, 'ORACLE_CALLBACK_TOKEN', /public development default/],
  ['oracle', { ORACLE_CALLBACK_TOKEN: 'only-twenty-chars-xx' }, 'ORACLE_CALLBACK_TOKEN', /too short/],
  ['oracle', { ORACLE_SERVICE_TOKEN: undefined }, 'ORACLE_SERVICE_TOKEN', /public development default/],
  ['oracle', { ORACLE_PRIVATE_KEY: undefined }, 'ORACLE_PRIVATE_KEY', /anvil's public development keys/],
  ['oracle', { ORACLE_PRIVATE_KEY: ANVIL_ACCOUNTS[7].privateKey }, 'ORACLE_PRIVATE_KEY', /anvil's public development keys/],
  ['oracle', { MPESA_CONSUMER_KEY: undefined }, 'MPESA_CONSUMER_KEY', /public development default/],
  ['oracle', { MPESA_CONSUMER_SECRET: undefined }, 'MPESA_CONSUMER_SECRET', /public development default/],
  ['oracle', { MPESA_PASSKEY: undefined }, 'MPESA_PASSKEY', /public sandbox value/],
  ['oracle', { MPESA_INITIATOR_PASSWORD: undefined }, 'MPESA_INITIATOR_PASSWORD', /public sandbox value/],
  ['oracle', { ORACLE_CALLBACK_ALLOWED_IPS: undefined }, 'ORACLE_CALLBACK_ALLOWED_IPS', /is empty.*ORACLE_CALLBACK_ALLOW_ANY_SOURCE=true/],
  ['oracle', { REDIS_URL: undefined }, 'REDIS_URL', /is missing/],
  // Real Daraja must be able to call back, and B2C needs Safaricom's certificate: refused at start, not at the first payout.
  ['oracle', { ORACLE_PUBLIC_URL: undefined }, 'ORACLE_PUBLIC_URL', /is http, not https: Daraja must reach it/],
  ['oracle', { ORACLE_PUBLIC_URL: 'http://oracle:4100' }, 'ORACLE_PUBLIC_URL', /is http, not https/],
  ['oracle', { ORACLE_PUBLIC_URL: 'https://oracle:4100' }, 'ORACLE_PUBLIC_URL', /names oracle, a name only this network resolves/],
  ['oracle', { ORACLE_PUBLIC_URL: 'https://10.1.2.3/hooks-base' }, 'ORACLE_PUBLIC_URL', /names 10\.1\.2\.3, which the internet cannot reach/],
  ['oracle', { MPESA_CERTIFICATE_PATH: undefined }, 'MPESA_CERTIFICATE_PATH', /is unset: set it to Safaricom's certificate/],
  ['oracle', { MPESA_CERTIFICATE_PATH: '/nonexistent/safaricom.cer' }, 'MPESA_CERTIFICATE_PATH', /names \/nonexistent\/safaricom\.cer, which does not exist/],
  // Not production by NODE_ENV, yet not development: a real chain, or the real Daraja.
  ['oracle', { NODE_ENV: 'test', MPESA_BASE_URL: undefined, CHAIN_ID: '420420422', ORACLE_SERVICE_TOKEN: undefined }, 'ORACLE_SERVICE_TOKEN', /public development default/],
  ['oracle', { NODE_ENV: 'test', ORACLE_PRIVATE_KEY: undefined }, 'ORACLE_PRIVATE_KEY', /anvil/],
  ['api', { JWT_SECRET: undefined }, 'JWT_SECRET', /public development default/],
  ['api', { JWT_SECRET: 'dev-jwt-secret-change-me-0123456789abcdef' }, 'JWT_SECRET', /public development default/],
  ['api', { JWT_SECRET: `${'x'.repeat(31)}` }, 'JWT_SECRET', /invalid|too short/],
  ['api', { ORACLE_SERVICE_TOKEN: undefined }, 'ORACLE_SERVICE_TOKEN', /public development default/],
  ['api', { LOGIN_DOMAIN: undefined }, 'LOGIN_DOMAIN', /points at this machine/],
  ['api', { LOGIN_URI: 'http://127.0.0.1:4000' }, 'LOGIN_URI', /points at this machine/],
  ['api', { ADMIN_ADDRESSES: undefined }, 'ADMIN_ADDRESSES', /is empty/],
  ['api', { REDIS_URL: undefined }, 'REDIS_URL', /is missing/],
  // Issue 25: the sealing keyring is required and a secret of its own.
  ['api', { KYC_ENCRYPTION_KEYS: undefined }, 'KYC_ENCRYPTION_KEYS', /is missing/],
  ['api', { KYC_ENCRYPTION_KEYS: `k1:${apiSafe.JWT_SECRET}` }, 'KYC_ENCRYPTION_KEYS', /key "k1" is the same as JWT_SECRET/],
  ['api', { KYC_ENCRYPTION_KEYS: `new:${secret()},old:${apiSafe.ORACLE_SERVICE_TOKEN}` }, 'KYC_ENCRYPTION_KEYS', /key "old" is the same as ORACLE_SERVICE_TOKEN/],
  ['api', { KYC_ENCRYPTION_KEYS: 'k1:dev-sealing-key-change-me-0123456789abcdef' }, 'KYC_ENCRYPTION_KEYS', /public development default/],
  ['api', { KYC_ENCRYPTION_KEYS: 'k1:too-short' }, 'KYC_ENCRYPTION_KEYS', /too short/],
  ['api', { KYC_ENCRYPTION_KEYS: undefined, KYC_ENCRYPTION_KEY: apiSafe.JWT_SECRET }, 'KYC_ENCRYPTION_KEYS', /key "default" is the same as JWT_SECRET/],
];

/** Issue 25, point 11: only settings' defaults, pointed at a chain. The line names the chain and the first dangerous setting. */
const chainCases: [service: 'oracle' | 'api', rpc: keyof typeof RPC, line: RegExp][] = [
  ['api', 'real', /^Unsafe configuration \(RPC_URL serves chain 420420422 \(anvil\/[^)]+\), not a dev chain\): JWT_SECRET is the public development default/],
  ['oracle', 'real', /^Unsafe configuration \(RPC_URL serves chain 420420422 \(anvil\/[^)]+\), not a dev chain\): ORACLE_CALLBACK_TOKEN is the public development default/],
  ['api', 'silent', /^Unsafe configuration \(RPC_URL did not answer eth_chainId .*the dev chain cannot be confirmed\): JWT_SECRET is the public development default/],
];

const entry = { oracle: 'oracle/src/main.ts', api: 'api/src/main.ts' };
const base = { oracle: oracleSafe, api: apiSafe };

let results: Run[];
let controls: Run[];
let chainResults: Run[];
let devChainControls: Run[];
const anvils: AnvilHandle[] = [];
beforeAll(async () => {
  const [real, dev] = await Promise.all([startAnvil({ chainId: 420420422 }), startAnvil()]);
  anvils.push(real, dev);
  Object.assign(RPC, { real: real.url, dev: dev.url });
  const all = await limited(3, [
    ...cases.map(([svc, change]) => () => run(entry[svc], { ...base[svc], ...change })),
    ...chainCases.map(([svc, rpc]) => () => run(entry[svc], bare(RPC[rpc]))),
    () => run(entry.oracle, oracleSafe),
    () => run(entry.api, apiSafe),
    () => run(entry.oracle, { ...oracleSafe, ORACLE_CALLBACK_ALLOWED_IPS: undefined, ORACLE_CALLBACK_ALLOW_ANY_SOURCE: 'true' }),
    () => run(entry.api, bare(RPC.dev)),
    () => run(entry.oracle, bare(RPC.dev)),
  ]);
  results = all.slice(0, cases.length);
  chainResults = all.slice(cases.length, cases.length + chainCases.length);
  controls = all.slice(cases.length + chainCases.length, -2);
  devChainControls = all.slice(-2);
}, 300_000);

afterAll(async () => {
  await Promise.all(anvils.map((a) => a.stop()));
});

test.each(cases.map((c, i) => [i, c[0], c[2], c[1]] as const))('case %i: the %s refuses to start with unsafe %s', (i) => {
  const [, , variable, problem] = cases[i]!;
  const r = results[i]!;
  const lines = r.stderr.trim().split('\n');
  expect({ status: r.status, lines: lines.length, stdout: r.stdout }).toEqual({ status: 1, lines: 1, stdout: '' });
  expect(lines[0]).toMatch(new RegExp(`^(Unsafe|Invalid) configuration.*: ${variable} `));
  expect(lines[0]).toMatch(problem);
});

test.each(chainCases.map((c, i) => [i, c[0], c[1]] as const))('chain case %i: with nothing set, the %s pointed at the %s chain refuses the development secrets', (i) => {
  const r = chainResults[i]!;
  const lines = r.stderr.trim().split('\n');
  expect({ status: r.status, lines: lines.length, stdout: r.stdout }).toEqual({ status: 1, lines: 1, stdout: '' });
  expect(lines[0]).toMatch(chainCases[i]![2]);
});

test("on anvil's dev chain (31337) the development defaults still start (and stop on the unreachable database)", () => {
  for (const r of devChainControls) {
    expect(r.stderr).not.toMatch(/configuration/);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED|connect/);
  }
});

test('with every setting safe, the services get past the check (and stop on the unreachable database)', () => {
  for (const r of controls) {
    expect(r.stderr).not.toMatch(/configuration/);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED|connect/);
  }
});
