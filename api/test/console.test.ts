/**
 * The API serves the web console at /console: files with their content types, index.html
 * for client routes, long caching only for hashed assets, a CSP that allows this origin
 * only; and `consoleSettings` offers the one-click dev wallet in development and never in
 * production. The console is built once here (Vite) exactly as `npm run build` builds it.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANVIL_ACCOUNTS, DEV_ROLES, parseEnv } from '@descrow/common';
import { apiEnvShape } from '../src/config';
import { createApi, type Api } from '../src/app';
import { buildConsole } from '../../scripts/build';
import { gql } from './support/client';

const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
const apis: Api[] = [];

function api(env: Record<string, string>, consoleDir = dist): Api {
  const config = parseEnv(apiEnvShape, {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused', // nothing here reaches the database
    ESCROW_ADDRESS: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    ORACLE_ADDRESS: DEV_ROLES.oracle.address,
    ARBITER_ADDRESS: DEV_ROLES.arbiter.address,
    ADMIN_ADDRESSES: DEV_ROLES.owner.address,
    RPC_URL: 'http://127.0.0.1:8545',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const a = createApi(config, { consoleDir });
  apis.push(a);
  return a;
}
const get = (a: Api, path: string) => a.yoga.fetch(`http://api.test${path}`);

beforeAll(() => buildConsole(dist), 60_000);
afterAll(async () => {
  for (const a of apis) await a.stop();
});

test('/console serves the built page with a self-only CSP; hashed assets are cached for a year with their content types', async () => {
  const a = api({ NODE_ENV: 'production' });
  expect((await get(a, '/console')).headers.get('location')).toBe('/console/');
  const page = await get(a, '/console/');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(page.headers.get('cache-control')).toBe('no-cache');
  const csp = page.headers.get('content-security-policy')!;
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("connect-src 'self';"); // production: nothing but this origin
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  expect(assets.some((p) => p.endsWith('.js'))).toBe(true);
  expect(html).not.toMatch(/https?:\/\//); // no asset from the internet
  for (const asset of assets) {
    const res = await get(a, asset);
    expect([asset, res.status, res.headers.get('cache-control')]).toEqual([asset, 200, 'public, max-age=31536000, immutable']);
    expect(res.headers.get('content-type')).toBe(asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
  }
});

test('client routes get index.html; a missing file is a 404; no path leaves the console folder', async () => {
  const a = api({ NODE_ENV: 'production' });
  for (const route of ['/console/order/0xabc', '/console/admin/reconciliation', '/console/search?q=QK12AB34CD']) {
    const res = await get(a, route);
    expect([route, res.status]).toEqual([route, 200]);
    expect(await res.text()).toContain('<div id="root">');
  }
  expect((await get(a, '/console/assets/nothing-here.js')).status).toBe(404);
  expect((await get(a, '/console/..%2f..%2fpackage.json')).status).toBe(404);
  expect((await a.yoga.fetch('http://api.test/console/', { method: 'POST' })).status).toBe(405);
});

test('an API whose console was never built says how to build it', async () => {
  const res = await get(api({}, mkdtempSync(join(tmpdir(), 'no-console-'))), '/console/');
  expect(res.status).toBe(503);
  expect(await res.text()).toContain('npm run build');
});

const SETTINGS = '{ consoleSettings { chainId escrowAddress arbiterAddress environment devWallet { rpcUrl accounts { role address } } } }';

test('development: the console may sign as the dev accounts through the dev chain (addresses only), and its CSP lets it reach that chain', async () => {
  const a = api({ NODE_ENV: 'development' });
  const r = await gql(a, SETTINGS);
  expect(r.data.consoleSettings).toEqual({
    chainId: 31337,
    escrowAddress: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    arbiterAddress: DEV_ROLES.arbiter.address.toLowerCase(),
    environment: 'development',
    devWallet: {
      rpcUrl: 'http://127.0.0.1:8545',
      accounts: [
        { role: 'admin', address: DEV_ROLES.owner.address.toLowerCase() },
        { role: 'arbiter', address: DEV_ROLES.arbiter.address.toLowerCase() },
        { role: 'buyer', address: DEV_ROLES.buyer.address.toLowerCase() },
        { role: 'seller', address: DEV_ROLES.seller.address.toLowerCase() },
      ],
    },
  });
  expect((await get(a, '/console/')).headers.get('content-security-policy')).toContain("connect-src 'self' http://127.0.0.1:8545;");
});

test('production: no dev wallet, and no dev key anywhere in what the console ships', async () => {
  const a = api({ NODE_ENV: 'production' });
  const r = await gql(a, SETTINGS);
  expect(r.data.consoleSettings).toMatchObject({ environment: 'production', devWallet: null });
  // Outside development by chain id too (a real network with NODE_ENV left at development).
  expect((await gql(api({ NODE_ENV: 'development', CHAIN_ID: '420420420' }), SETTINGS)).data.consoleSettings.devWallet).toBeNull();
  const shipped = readdirSync(join(dist, 'assets')).map((f) => readFileSync(join(dist, 'assets', f), 'utf8')).join('\n') + readFileSync(join(dist, 'index.html'), 'utf8');
  for (const { privateKey } of ANVIL_ACCOUNTS) expect(shipped).not.toContain(privateKey.slice(2));
});
