/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs
 * here): the compose file validates with docker-compose itself, every command our
 * image runs exists, every variable handed to our services is one they read, and the
 * image is multi-stage and runs as a non-root user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { sharedEnvShape } from '@descrow/common';
import { oracleEnvShape } from '../../oracle/src/config';
import { apiEnvShape } from '../../api/src/config';
import { darajaSimEnvShape } from '../../sandbox/daraja/src/config';
import { indexerEnvShape } from '../../indexer/scripts/run';

const ROOT = resolve(__dirname, '../..');
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; profiles?: string[]; healthcheck?: unknown; user?: string }>;
};

const v2 = spawnSync('docker', ['compose', 'version']).status === 0;
const v1 = spawnSync('docker-compose', ['--version']).status === 0;
// CI always validates (.ci/run installs Debian's docker-compose); a developer machine
// without it skips this one check and says so.
const composeCheck = v1 || v2 || process.env.CI ? test : test.skip;
if (!v1 && !v2 && !process.env.CI) process.stderr.write('deployment.test: docker-compose not installed; `apt-get install docker-compose` to validate docker-compose.yml\n');

composeCheck('docker-compose.yml is valid for Docker Compose (docker-compose config)', () => {
  const cmd = v2 ? ['docker', ['compose', '-f', 'docker-compose.yml', '--profile', 'sandbox', 'config', '-q']] as const
    : v1 ? ['docker-compose', ['-f', 'docker-compose.yml', '--profile', 'sandbox', 'config', '-q']] as const : null;
  if (!cmd) throw new Error('neither `docker compose` nor `docker-compose` is installed: apt-get install docker-compose (.ci/run does)');
  // Throws with docker-compose's own message if the file is invalid.
  execFileSync(cmd[0], [...cmd[1]], { cwd: ROOT, stdio: 'pipe' });
});

test('the stack has every part, SubQuery from its published images, and health checks on the services', () => {
  const s = compose.services;
  expect(Object.keys(s).sort()).toEqual(['api', 'chain', 'daraja-sim', 'deployer', 'indexer-manifest', 'oracle', 'postgres', 'redis', 'subql-node', 'subql-query'].sort());
  expect(s['subql-node']!.image).toMatch(/^subquerynetwork\/subql-node-ethereum:/);
  expect(s['subql-query']!.image).toMatch(/^subquerynetwork\/subql-query:/);
  for (const name of ['postgres', 'redis', 'chain', 'daraja-sim', 'subql-node', 'oracle', 'api']) expect(s[name]!.healthcheck).toBeDefined();
  // The local chain, deployer and simulator are a profile: off for a real RPC and Safaricom.
  for (const name of ['chain', 'deployer', 'daraja-sim']) expect(s[name]!.profiles).toEqual(['sandbox']);
});

test('every command our image runs is a file in this repository', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.build || !svc.command) continue;
    const [bin, script] = svc.command;
    expect([name, bin]).toEqual([name, 'node_modules/.bin/tsx']);
    expect([name, existsSync(join(ROOT, script!))]).toEqual([name, true]);
  }
});

test('every variable handed to our services is one that service reads (no silent typos)', () => {
  const reads: Record<string, string[]> = {
    oracle: Object.keys(oracleEnvShape),
    api: Object.keys(apiEnvShape),
    'daraja-sim': Object.keys(darajaSimEnvShape),
    'indexer-manifest': Object.keys(indexerEnvShape),
    deployer: ['RPC_URL', 'CHAIN_ID', 'CHAIN_BLOCK_TIME', 'DEPLOYMENT_FILE', 'ESCROW_FEE_BPS', 'CHAIN_STATE_FILE'],
  };
  const common = ['TZ', 'LOG_LEVEL', ...Object.keys(sharedEnvShape)];
  for (const [name, known] of Object.entries(reads)) {
    const env = Object.keys(compose.services[name]!.environment ?? {});
    const unknown = env.filter((k) => !known.includes(k) && !common.includes(k) && k !== 'ESCROW_ADDRESS');
    expect([name, unknown]).toEqual([name, []]);
  }
});

test('the Dockerfile is multi-stage, installs from the lockfiles, and runs as a non-root user', () => {
  const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  expect((df.match(/^FROM /gm) ?? []).length).toBeGreaterThanOrEqual(3);
  expect(df).toMatch(/RUN npm ci/);
  const runtime = df.slice(df.lastIndexOf('FROM '));
  expect(runtime).toMatch(/^USER node$/m);
  // Every workspace's package.json reaches the dependency stage, or `npm ci` would fail.
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  for (const w of workspaces) expect(df).toContain(`COPY ${w}/package.json ${w}/`);
  expect(df).toContain('COPY query/package.json query/package-lock.json query/');
});
