/**
 * The production path is the tested path: the services compiled by `npm run build`, laid
 * out as in the runtime image (build/ output + migrations, GraphQL schema and certificates;
 * no TypeScript sources), run with `node` against a real anvil, Postgres and Redis: the
 * deployer deploys, the simulator, the oracle and the API come up and answer.
 * Then GraphiQL, opened in headless Chromium with every request outside this machine
 * blocked, loads from the API alone and runs a query.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, freePortPair, startAnvil, type AnvilHandle } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { buildServices, RUNTIME_ASSETS } from '../build';
import { prepareIndexer } from '../../indexer/scripts/prepare';

const ROOT = resolve(__dirname, '../..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

let app: string;
let anvil: AnvilHandle;
let db: { url: string; drop: () => Promise<void> };
const children: ChildProcess[] = [];
const ports = { sim: 0, oracle: 0, api: 0 };
const logs: string[] = [];

function start(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [join(app, entry)], { cwd: app, env: { PATH: process.env.PATH, TZ: 'UTC', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => logs.push(`[${entry}] ${d}`));
  child.stderr!.on('data', (d: Buffer) => logs.push(`[${entry}] ${d}`));
  children.push(child);
  return child;
}

async function until(what: string, child: ChildProcess, ok: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${logs.join('')}`);
    if (await ok().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not up within ${ms} ms:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const gql = (query: string) =>
  fetch(`http://127.0.0.1:${ports.api}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });

beforeAll(async () => {
  // The runtime image's /app: compiled services and their files, node_modules from outside.
  app = mkdtempSync(join(tmpdir(), 'descrow-image-'));
  await buildServices(app);
  for (const asset of RUNTIME_ASSETS) cpSync(join(ROOT, asset), join(app, asset), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');

  anvil = await startAnvil();
  db = await createTestDatabase('image');
  [ports.sim, ports.oracle, ports.api] = await Promise.all([freePort(), freePortPair(), freePort()]); // the oracle's internal listener is its port + 1
  const deployment = join(app, 'deployment.json');
  const deployer = spawnSync(process.execPath, [join(app, 'sandbox/chain/start.js')], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH, RPC_URL: anvil.url, DEPLOYMENT_FILE: deployment } });
  if (deployer.status !== 0) throw new Error(`deployer: ${deployer.stdout}${deployer.stderr}`);

  const shared = { DATABASE_URL: db.url, ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}), RPC_URL: anvil.url, DEPLOYMENT_FILE: deployment, MPESA_BASE_URL: `http://127.0.0.1:${ports.sim}` };
  const sim = start('sandbox/daraja/main.js', { DARAJA_SIM_PORT: String(ports.sim) });
  await until('daraja simulator', sim, async () => (await fetch(`http://127.0.0.1:${ports.sim}/__sim/settings`)).ok);
  const oracle = start('oracle/src/main.js', { ...shared, ORACLE_PORT: String(ports.oracle), ORACLE_HOST: '127.0.0.1', ORACLE_RUN_JOBS: 'false' });
  await until('oracle', oracle, async () => (await fetch(`http://127.0.0.1:${ports.oracle}/health`)).status === 200);
  const api = start('api/src/main.js', { ...shared, API_PORT: String(ports.api), API_HOST: '127.0.0.1', API_METRICS_PORT: String(await freePort()), ORACLE_URL: `http://127.0.0.1:${ports.oracle + 1}` });
  await until('api', api, async () => (await gql('{ __typename }')).ok);
}, 120_000);

afterAll(async () => {
  for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  await anvil?.stop();
  await db?.drop();
});

test('the image holds compiled JavaScript only: no TypeScript source next to the services', () => {
  for (const entry of ['oracle/src/main', 'api/src/main', 'sandbox/chain/start', 'sandbox/daraja/main']) {
    expect([entry, existsSync(join(app, `${entry}.js`)), existsSync(join(app, `${entry}.ts`))]).toEqual([entry, true, false]);
  }
  // The Dockerfile copies the same files into the runtime image.
  const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  for (const asset of RUNTIME_ASSETS) expect(df).toContain(`COPY --from=build /app/${asset} ${asset}`);
});

test('compiled: the deployer deployed, the oracle serves health and keeps /internal off its public port, the API answers', async () => {
  const health = await (await fetch(`http://127.0.0.1:${ports.oracle}/health`)).json();
  expect(health).toMatchObject({ status: 'ok', checks: { postgres: { ok: true }, redis: { ok: true }, chain: { ok: true }, daraja: { ok: true } } });
  expect((await fetch(`http://127.0.0.1:${ports.oracle}/internal/reconciliation/latest`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${ports.oracle + 1}/internal/reconciliation/latest`)).status).toBe(401); // service token required
  const res = await gql('{ products(first: 5) { nodes { id } } }');
  expect(await res.json()).toEqual({ data: { products: { nodes: [] } } });
  // The web console, built by the same build, is served from the compiled layout.
  const page = await fetch(`http://127.0.0.1:${ports.api}/console/`);
  expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
  expect(await page.text()).toContain('<div id="root">');
});

test("compiled: compose's logs dictionary finds the deployment and answers the node's dictionary protocol", async () => {
  const port = await freePort();
  const deployment = JSON.parse(readFileSync(join(app, 'deployment.json'), 'utf8')) as { address: string; deployBlock: number };
  const dictionary = start('scripts/compose-indexer-dictionary.js', { RPC_URL: anvil.url, DEPLOYMENT_FILE: join(app, 'deployment.json'), INDEXER_DICTIONARY_PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const rpc = async (method: string, params: unknown[] = []) =>
    (await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json()) as { result?: any; error?: unknown };
  await until('indexer dictionary', dictionary, async () => (await fetch(url)).ok);
  const caps = await rpc('subql_filterBlocksCapabilities');
  expect(caps.result).toMatchObject({ chainId: '31337', availableBlocks: [{ startHeight: deployment.deployBlock }], filters: { logs: expect.arrayContaining(['address', 'topics0']) } });
  // It names exactly the blocks where the chain itself has the contract's logs.
  const range = { fromBlock: `0x${deployment.deployBlock.toString(16)}`, toBlock: 'latest' };
  const chainLogs = (await (await fetch(anvil.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getLogs', params: [{ ...range, address: deployment.address }] }) })).json()) as { result: { blockNumber: string }[] };
  const found = await rpc('subql_filterBlocks', [{ fromBlock: range.fromBlock, toBlock: '0xffffff', limit: '0x64', blockFilter: { logs: [{ address: [deployment.address] }] } }]);
  expect(found.error).toBeUndefined();
  const numbers = (found.result.blocks as { header: { number: string } }[]).map((b) => Number(b.header.number));
  expect(numbers).toEqual([...new Set(chainLogs.result.map((l) => Number(l.blockNumber)))]);
  // The compiled manifest step names it as the network's dictionary (and leaves it out when
  // told to); it copies the project's files as the indexer image holds them.
  await prepareIndexer(() => undefined);
  for (const rel of ['indexer/dist', 'schema.graphql', 'contracts/artifacts']) cpSync(join(ROOT, rel), join(app, rel), { recursive: true });
  for (const [setting, expected] of [['logs', true], ['off', false]] as const) {
    const project = mkdtempSync(join(tmpdir(), 'descrow-project-'));
    const manifest = spawnSync(process.execPath, [join(app, 'scripts/compose-indexer-manifest.js'), project], {
      cwd: app, encoding: 'utf8',
      env: { PATH: process.env.PATH, RPC_URL: anvil.url, DEPLOYMENT_FILE: join(app, 'deployment.json'), INDEXER_DICTIONARY: setting, INDEXER_DICTIONARY_URL: url },
    });
    expect([setting, manifest.status, manifest.stderr]).toEqual([setting, 0, '']);
    const yaml = readFileSync(join(project, 'indexer/dist/runs/compose/project.yaml'), 'utf8');
    expect([setting, yaml.includes(url)]).toEqual([setting, expected]);
  }
});

const browserTest = CHROMIUM ? test : test.skip;
if (!CHROMIUM) process.stderr.write('image.test: chromium is not installed (`apt-get install chromium`; .ci/run does): the GraphiQL browser test is skipped\n');

browserTest('GraphiQL loads with no internet (nothing but the API is reachable), runs a query and shows the result', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const blocked: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.host === `localhost:${ports.api}` || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      blocked.push(url.href); // a CDN, or anything else outside: as if offline
      return route.abort('internetdisconnected');
    });
    const html = await (await fetch(`http://127.0.0.1:${ports.api}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdn\./);

    await page.goto(`http://localhost:${ports.api}/graphql?query=${encodeURIComponent('{ products(first: 5) { nodes { id } } }')}`);
    await page.locator('.graphiql-execute-button').click({ timeout: 30_000 });
    const result = page.locator('.result-window');
    await result.getByText('"products"').waitFor({ timeout: 30_000 });
    expect(await result.innerText()).toMatch(/"data":\s*\{\s*"products":\s*\{\s*"nodes":\s*\[\]/);
    expect(await page.locator('body').innerText()).not.toContain('Loading');
    expect(blocked).toEqual([]);
  } finally {
    await browser.close();
  }
}, 90_000);
