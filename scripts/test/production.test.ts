/**
 * Outside development every service refuses the public development values at start-up.
 * Each case spawns the real entry point (as `npm run oracle` / `npm run api` do) with a
 * complete, safe production environment except for ONE setting, and checks that the
 * process exits 1 with exactly one line on stderr naming that setting. The control case
 * (nothing unsafe) gets past the check and fails later, on the unreachable database.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS } from '@descrow/common';

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
  ORACLE_ADDRESS: privateKeyToAccount(generatePrivateKey()).address,
};

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
];

const entry = { oracle: 'oracle/src/main.ts', api: 'api/src/main.ts' };
const base = { oracle: oracleSafe, api: apiSafe };

let results: Run[];
let controls: Run[];
beforeAll(async () => {
  const all = await limited(3, [
    ...cases.map(([svc, change]) => () => run(entry[svc], { ...base[svc], ...change })),
    () => run(entry.oracle, oracleSafe),
    () => run(entry.api, apiSafe),
    () => run(entry.oracle, { ...oracleSafe, ORACLE_CALLBACK_ALLOWED_IPS: undefined, ORACLE_CALLBACK_ALLOW_ANY_SOURCE: 'true' }),
  ]);
  results = all.slice(0, cases.length);
  controls = all.slice(cases.length);
}, 240_000);

test.each(cases.map((c, i) => [i, c[0], c[2], c[1]] as const))('case %i: the %s refuses to start with unsafe %s', (i) => {
  const [, , variable, problem] = cases[i]!;
  const r = results[i]!;
  const lines = r.stderr.trim().split('\n');
  expect({ status: r.status, lines: lines.length, stdout: r.stdout }).toEqual({ status: 1, lines: 1, stdout: '' });
  expect(lines[0]).toMatch(new RegExp(`^(Unsafe|Invalid) configuration.*: ${variable} `));
  expect(lines[0]).toMatch(problem);
});

test('with every setting safe, the services get past the check (and stop on the unreachable database)', () => {
  for (const r of controls) {
    expect(r.stderr).not.toMatch(/configuration/);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED|connect/);
  }
});
