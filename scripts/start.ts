/**
 * `npm start`: the whole Descrow stack on this machine with embedded defaults.
 * Starts each part in order as its own process, waits until it is healthy, prints
 * every URL; Ctrl-C stops everything in reverse order (the API first, Postgres last). A
 * part that fails to come up stops the start with a message naming it.
 *
 * Every part runs in a process group of its own, so the terminal's Ctrl-C reaches this
 * orchestrator only and the parts stop one at a time, each after everything that uses it.
 * Every part listens on BIND_HOST (127.0.0.1 by default: the dev accounts' keys are public).
 *
 * `npm start -- --reindex` rebuilds the SubQuery index from the chain (indexer/scripts/run.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { buildConsole, consoleStale } from './build';
import { asRole, DEV_ROLES, env, loadConfigOrExit, Pool, rpcAnswers, setupDatabase, warnIfEndOfLife, type ServiceRole } from '@descrow/common';

const root = resolve(__dirname, '..');
warnIfEndOfLife();
const config = loadConfigOrExit({
  DATABASE_URL: z.string().url().optional(),
  EMBEDDED_PG_PORT: env.port(54320),
  RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  DARAJA_SIM_PORT: env.port(4200),
  ORACLE_PORT: env.port(4100),
  /** The oracle's internal listener (/internal/*), which only the API calls; unset = ORACLE_PORT + 1. */
  ORACLE_INTERNAL_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  INDEXER_NODE_PORT: env.port(3100),
  QUERY_PORT: env.port(3000),
  API_PORT: env.port(4000),
  /** The API's Prometheus listener (loopback). */
  API_METRICS_PORT: env.port(9464),
  /** Dev default: payouts after 2 blocks instead of anvil's 64-block finality. */
  ORACLE_CONFIRMATION_DEPTH: env.int(2),
  START_TIMEOUT_MS: env.int(60_000, 1_000),
  /** The address every part listens on; 0.0.0.0 exposes the stack to your network. */
  BIND_HOST: z.string().min(1).default('127.0.0.1'),
});
const reindex = process.argv.includes('--reindex');

const oracleInternalPort = config.ORACLE_INTERNAL_PORT ?? config.ORACLE_PORT + 1;

interface Part {
  name: string;
  command: string[];
  env?: Record<string, string>;
  healthy: () => Promise<boolean>;
  url: string;
  /** A part that finishes its work and exits 0 (e.g. a deployer) rather than serving. */
  oneShot?: boolean;
}

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function say(line: string) {
  process.stdout.write(`[start] ${line}\n`);
}

async function httpOk(url: string, strict = false): Promise<boolean> {
  try {
    const status = (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
    return strict ? status === 200 : status < 500;
  } catch {
    return false;
  }
}

async function graphqlOk(url: string, query: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(2_000) });
    return res.ok && !((await res.json()) as { errors?: unknown[] }).errors;
  } catch {
    return false;
  }
}

/** The chain is ready when the deployment file names a contract that has code on it. */
async function contractDeployed(file: string): Promise<boolean> {
  if (!(await rpcAnswers(config.RPC_URL)) || !existsSync(file)) return false;
  const { address } = JSON.parse(readFileSync(file, 'utf8')) as { address: string };
  const res = await fetch(config.RPC_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getCode', params: [address, 'latest'] }),
  });
  const { result } = (await res.json()) as { result?: string };
  return !!result && result !== '0x';
}

async function postgresAnswers(url: string): Promise<boolean> {
  const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 1_000 });
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Exit code of a part that has already said, in one line, why it cannot start (indexer/scripts/run.ts). */
const EXPLAINED = 78;

async function launch(part: Part, baseEnv: NodeJS.ProcessEnv): Promise<void> {
  say(`starting ${part.name}…`);
  const [cmd, ...args] = part.command;
  // detached: a process group of its own, out of reach of the terminal's Ctrl-C (see above).
  const child = spawn(cmd!, args, { cwd: root, env: { ...baseEnv, ...part.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push({ name: part.name, child });
  const prefix = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      // A part that names itself already (`[indexer] …`) is not named twice.
      for (const l of lines) out.write(`[${part.name}] ${l.replace(new RegExp(`^(\\[${part.name}\\]|${part.name}:) `), '')}\n`);
    });
  };
  prefix(child.stdout!, process.stdout);
  prefix(child.stderr!, process.stderr);
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? 1)));
  const deadline = Date.now() + config.START_TIMEOUT_MS;
  for (;;) {
    const done = await Promise.race([exited.then((c) => ({ c })), new Promise<null>((r) => setTimeout(() => r(null), 250))]);
    if (done && done.c === EXPLAINED) throw new Explained();
    if (done && !(part.oneShot && done.c === 0)) throw new Error(`${part.name} exited with code ${done.c} before it was healthy`);
    if (await part.healthy()) break;
    if (Date.now() > deadline) throw new Error(`${part.name} was not healthy after ${config.START_TIMEOUT_MS / 1000}s (${part.url})`);
  }
  if (!part.oneShot) {
    child.once('exit', (code) => {
      if (!stopping) {
        say(`${part.name} stopped unexpectedly (code ${code}); stopping everything`);
        void shutdown(1);
      }
    });
  }
  say(`${part.name} is up: ${part.url}`);
}

/**
 * Each part connects as its own database role, as in production (docs/operations.md,
 * "Database roles"): db:setup's step runs here as DATABASE_URL's role. The development
 * passwords are public (this machine's database only); API_DATABASE_URL etc. override them.
 * A DATABASE_URL role that may not create roles runs every part as itself, and says so.
 */
async function serviceDatabases(adminUrl: string): Promise<Record<ServiceRole, string> | null> {
  const services = ['api', 'oracle', 'indexer', 'query'] as const;
  const urls = Object.fromEntries(services.map((s) => [s, process.env[`${s.toUpperCase()}_DATABASE_URL`] || asRole(adminUrl, `descrow_${s}`, `descrow-dev-${s}-password`)])) as Record<ServiceRole, string>;
  for (let attempt = 1; ; attempt++) {
    try {
      await setupDatabase({ adminUrl, services: urls, appMigrations: resolve(root, 'api/migrations'), schemas: { index: process.env.INDEXER_DB_SCHEMA || 'descrow_index' } });
      return urls;
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (e.code === '42501') {
        say(`DATABASE_URL's role may not create database roles (${e.message}): every part connects as it (docs/operations.md, Database roles)`);
        return null;
      }
      // Roles are per server: another database's setup on the same server may be changing the same role.
      if (attempt >= 3 || !['42710', '23505', 'XX000', '40001'].includes(e.code ?? '')) throw new Error(`database roles: ${e.message}`);
    }
  }
}

/** A part said why it stopped; nothing to add. */
class Explained extends Error {}

let shuttingDown: Promise<never> | undefined;
function shutdown(code: number): Promise<never> {
  shuttingDown ??= stopAll(code);
  return shuttingDown;
}

/** Stops the parts last-started first: each stops while everything it uses still runs. */
async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const started = Date.now();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    if (!inTime) {
      child.kill('SIGKILL');
      await exited;
    }
    const how = !inTime ? 'killed after 10 s' : child.exitCode ? `exit code ${child.exitCode}` : `${Date.now() - started} ms`;
    say(`stopped ${name} (${how})`);
  }
  process.exit(code);
}

async function main() {
  const started = Date.now();
  const tsx = resolve(root, 'node_modules/.bin/tsx');
  const databaseUrl = config.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${config.EMBEDDED_PG_PORT}/descrow`;
  const bind = config.BIND_HOST;
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', DATABASE_URL: databaseUrl, RPC_URL: config.RPC_URL };

  if (!config.DATABASE_URL) {
    await launch({
      name: 'postgres',
      command: [tsx, 'scripts/embedded-postgres.ts'],
      env: { EMBEDDED_PG_PORT: String(config.EMBEDDED_PG_PORT) },
      healthy: () => postgresAnswers(databaseUrl),
      url: `127.0.0.1:${config.EMBEDDED_PG_PORT} (embedded, data in .data/pg)`,
    }, baseEnv);
  }
  // Every part after this connects as its own database role (made here, as in compose's db-setup).
  const roles = await serviceDatabases(databaseUrl);
  const dbOf = (service: ServiceRole) => ({ DATABASE_URL: roles?.[service] ?? databaseUrl });

  const parts: Part[] = [
    {
      name: 'chain',
      command: [tsx, 'sandbox/chain/start.ts'],
      env: { CHAIN_HOST: process.env.CHAIN_HOST ?? bind },
      healthy: () => contractDeployed(resolve(root, process.env.DEPLOYMENT_FILE ?? 'sandbox/chain/deployments/local.json')),
      url: config.RPC_URL,
    },
    {
      name: 'daraja-sim',
      command: [tsx, 'sandbox/daraja/main.ts'],
      env: { DARAJA_SIM_PORT: String(config.DARAJA_SIM_PORT), DARAJA_SIM_HOST: process.env.DARAJA_SIM_HOST ?? bind },
      healthy: () => httpOk(`http://127.0.0.1:${config.DARAJA_SIM_PORT}/__sim/settings`),
      url: `http://localhost:${config.DARAJA_SIM_PORT}`,
    },
    {
      name: 'oracle',
      command: [tsx, 'oracle/src/main.ts'],
      env: {
        ...dbOf('oracle'),
        ORACLE_PORT: String(config.ORACLE_PORT),
        ORACLE_HOST: process.env.ORACLE_HOST ?? bind,
        ORACLE_INTERNAL_PORT: String(oracleInternalPort),
        ORACLE_PUBLIC_URL: process.env.ORACLE_PUBLIC_URL ?? `http://127.0.0.1:${config.ORACLE_PORT}`,
        MPESA_BASE_URL: process.env.MPESA_BASE_URL ?? `http://127.0.0.1:${config.DARAJA_SIM_PORT}`,
        ORACLE_CONFIRMATION_DEPTH: String(config.ORACLE_CONFIRMATION_DEPTH),
      },
      healthy: async () => (await fetch(`http://127.0.0.1:${config.ORACLE_PORT}/health`).catch(() => null))?.status === 200,
      url: `http://localhost:${config.ORACLE_PORT}`,
    },
    {
      name: 'indexer',
      command: [tsx, 'indexer/scripts/run.ts'],
      env: { ...dbOf('indexer'), INDEXER_NODE_PORT: String(config.INDEXER_NODE_PORT), INDEXER_BIND_HOST: process.env.INDEXER_BIND_HOST ?? bind, ...(reindex ? { INDEXER_REINDEX: 'true' } : {}) },
      healthy: () => httpOk(`http://127.0.0.1:${config.INDEXER_NODE_PORT}/health`, true),
      url: `http://localhost:${config.INDEXER_NODE_PORT}/health`,
    },
    {
      name: 'query',
      command: [tsx, 'indexer/scripts/query.ts'],
      env: { ...dbOf('query'), QUERY_PORT: String(config.QUERY_PORT), INDEXER_BIND_HOST: process.env.INDEXER_BIND_HOST ?? bind },
      healthy: () => graphqlOk(`http://127.0.0.1:${config.QUERY_PORT}/`, '{ _metadata { lastProcessedHeight } }'),
      url: `http://localhost:${config.QUERY_PORT}`,
    },
    {
      name: 'api',
      command: [tsx, 'api/src/main.ts'],
      // Development: the dev chain's owner account is the admin unless ADMIN_ADDRESSES says otherwise.
      env: { ...dbOf('api'), API_PORT: String(config.API_PORT), API_HOST: process.env.API_HOST ?? bind, API_METRICS_PORT: String(config.API_METRICS_PORT), ORACLE_URL: `http://127.0.0.1:${oracleInternalPort}`, ADMIN_ADDRESSES: process.env.ADMIN_ADDRESSES || DEV_ROLES.owner.address },
      healthy: () => httpOk(`http://127.0.0.1:${config.API_PORT}/health`, true),
      url: `http://localhost:${config.API_PORT}/graphql`,
    },
  ];
  // The API's Prisma client is generated code (not committed): make sure it exists.
  await new Promise<void>((res, rej) => spawn(tsx, ['api/scripts/generate.ts'], { cwd: root, stdio: 'inherit' }).once('exit', (c) => (c === 0 ? res() : rej(new Error('api: prisma generate failed')))));
  // The web console the API serves at /console: rebuilt when its sources or the schema changed.
  if (consoleStale()) {
    say('building the web console (console/, Vite)…');
    buildConsole();
  }
  for (const part of parts) await launch(part, baseEnv);

  say(`Descrow is running (${((Date.now() - started) / 1000).toFixed(1)}s):`);
  say(`  dev chain        ${config.RPC_URL} (chain 31337, contract in sandbox/chain/deployments/local.json)`);
  say(`  database         ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}${config.DATABASE_URL ? '' : ' (embedded, data in .data/pg)'}${roles ? `, each part as its own role: ${Object.values(roles).map((u) => decodeURIComponent(new URL(u).username)).join(', ')}` : ''}`);
  say(`  Daraja simulator http://localhost:${config.DARAJA_SIM_PORT} (control API under /__sim, see sandbox/daraja/README.md)`);
  say(`  M-Pesa oracle    http://localhost:${config.ORACLE_PORT}/health (payouts after ${config.ORACLE_CONFIRMATION_DEPTH} blocks; internal API on :${oracleInternalPort})`);
  say(`  SubQuery index   node http://localhost:${config.INDEXER_NODE_PORT}/health, query http://localhost:${config.QUERY_PORT} (time travel: blockHeight)`);
  say(`  GraphQL API      http://localhost:${config.API_PORT}/graphql`);
  say(`  Web console      http://localhost:${config.API_PORT}/console (explorer; sign in as a dev account for admin and arbiter views)`);
  say(`  metrics          http://127.0.0.1:${config.API_METRICS_PORT}/metrics (API), http://127.0.0.1:${oracleInternalPort}/metrics (oracle), http://localhost:${config.INDEXER_NODE_PORT}/metrics (SubQuery node); see docs/operations.md`);
  say('dev accounts (anvil defaults, never use on a real network):');
  for (const [role, acct] of Object.entries(DEV_ROLES)) say(`  ${(role === 'owner' && !process.env.ADMIN_ADDRESSES ? 'owner/admin' : role).padEnd(11)} ${acct.address}`);
  say(bind === '127.0.0.1'
    ? 'listening on 127.0.0.1 only; `BIND_HOST=0.0.0.0 npm start` exposes every part to your network (anyone reaching the API can sign in with the public dev keys)'
    : `listening on ${bind}: reachable from your network, where anyone can sign in with the public dev keys`);
  say('Ctrl-C stops everything.');
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGHUP', () => void shutdown(0));
main().catch((err: Error) => {
  if (!(err instanceof Explained)) process.stderr.write(`[start] ${err.message}\n`);
  void shutdown(1);
});
