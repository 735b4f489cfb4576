/**
 * The whole stack as `npm start` brings it up (scripts/start.ts: chain, simulator, oracle,
 * SubQuery node and query service, API), for tests that drive it from outside: a fresh
 * database, free ports, a temporary folder for the chain state and evidence, and a Redis key
 * prefix of its own (rate limits and M-Pesa prompt limits live in Redis, which outlives a
 * run, so an earlier run's prompts to the same test phones must not count against this one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, freePortPair } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { Stack } from '../journeys';

const ROOT = resolve(__dirname, '../..');

export interface RunningStack {
  /** The journeys' client of the API, the chain and the simulator. */
  s: Stack;
  ports: { chain: number; sim: number; oracle: number; node: number; query: number; api: number; metrics: number };
  /** The stack's database (for facts a test must set up that no journey creates). */
  databaseUrl: string;
  /** Everything start.ts printed so far. */
  output: () => string;
  /** Ctrl-C: SIGINT to start.ts's process group, as a terminal sends it; resolves once it exited. */
  stop: () => Promise<void>;
}

export interface StackPlace {
  /** A database that outlives this run (kept by stop), e.g. for restarts. Default: a fresh one, dropped by stop. */
  databaseUrl?: string;
  /** The folder of the chain state, deployment file and evidence; default a new temporary one. */
  dir?: string;
}

/** Start the stack under `label` (the database's and Redis prefix's name); `env` adds to or overrides its settings. */
export async function startStack(label: string, env: Record<string, string>, log: (line: string) => void, place: StackPlace = {}): Promise<RunningStack> {
  const db = place.databaseUrl ? { url: place.databaseUrl, drop: async () => undefined } : await createTestDatabase(label);
  const dir = place.dir ?? mkdtempSync(join(tmpdir(), `descrow-${label}-`));
  // The oracle's internal listener is its port + 1.
  const [chain, sim, oracle, node, query, api, metrics] = await Promise.all([freePort(), freePort(), freePortPair(), freePort(), freePort(), freePort(), freePort()]);
  const rpc = `http://127.0.0.1:${chain}`;
  const deploymentFile = join(dir, 'deployment.json');
  const child: ChildProcess = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/start.ts')], {
    cwd: ROOT,
    env: {
      ...process.env, TZ: 'UTC', DATABASE_URL: db.url,
      RPC_URL: rpc, DEPLOYMENT_FILE: deploymentFile, CHAIN_STATE_FILE: join(dir, 'anvil.json'),
      DARAJA_SIM_PORT: String(sim), DARAJA_SIM_STK_RESOLVE_MS: '0', DARAJA_SIM_B2C_RESOLVE_MS: '300',
      ORACLE_PORT: String(oracle), ORACLE_JOB_INTERVAL_MS: '200',
      INDEXER_NODE_PORT: String(node), QUERY_PORT: String(query), API_PORT: String(api), API_METRICS_PORT: String(metrics),
      EVIDENCE_STORE: join(dir, 'evidence'), LOG_LEVEL: 'warn', INDEXER_DB_SCHEMA: 'descrow_index', START_TIMEOUT_MS: '120000',
      REDIS_PREFIX: `descrow:${label}:${process.pid}-${Date.now()}:`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, like `npm start` in a terminal: stop() sends Ctrl-C's SIGINT to all of it.
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => { child.once('exit', r); setTimeout(r, 30_000); });
      process.kill(-child.pid!, 'SIGINT');
      await exited;
    }
    await db.drop().catch(() => undefined);
  };
  const until = Date.now() + 180_000;
  while (!output.includes('Descrow is running')) {
    const failure = child.exitCode !== null ? 'failed' : Date.now() > until ? 'did not come up' : undefined;
    if (failure) {
      await stop();
      throw new Error(`npm start ${failure}:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const s = new Stack({ api: `http://127.0.0.1:${api}`, rpc, sim: `http://127.0.0.1:${sim}`, deploymentFile }, log);
  return { s, ports: { chain, sim, oracle, node, query, api, metrics }, databaseUrl: db.url, output: () => output, stop };
}
