/**
 * `npm run query`: `@subql/query` (installed apart in query/, it needs graphql 15) over
 * the index schema, on port 3000 by default. Raw index over GraphQL: filters,
 * aggregates and `blockHeight` time travel. Used by the time-travel test as well.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { env, loadConfigOrExit, pgUrlParts } from '@descrow/common';
import { bindHostArgs } from './node';
import { ROOT } from './prepare';

const QUERY_BIN = resolve(ROOT, 'query/node_modules/@subql/query/bin/run');

export interface QueryService {
  url: string;
  process: ChildProcess;
  /** POST a GraphQL query; throws on GraphQL errors. */
  query<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

export async function startQueryService(opts: {
  databaseUrl: string;
  schema: string;
  port: number;
  onLine?: (line: string) => void;
  timeoutMs?: number;
  /** The address to listen on (default: every interface, as @subql/query does). */
  bindHost?: string;
  /**
   * @subql/query's log level. Its `info` logs every request as a raw JSON line (pino-http),
   * so the default is `warn`; `debug` shows them.
   */
  logLevel?: string;
  /** `colored` (default) or `json`. */
  outputFormat?: 'colored' | 'json';
}): Promise<QueryService> {
  if (!existsSync(QUERY_BIN)) throw new Error(`${QUERY_BIN} is missing: run \`npm --prefix query ci\` (the root postinstall does)`);
  const db = pgUrlParts(opts.databaseUrl);
  const bind = bindHostArgs(opts.bindHost);
  const args = [...bind.execArgv, QUERY_BIN, `--name=${opts.schema}`, `--port=${opts.port}`, '--playground=false', `--output-fmt=${opts.outputFormat ?? 'colored'}`, `--log-level=${opts.logLevel ?? 'warn'}`];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, TZ: 'UTC', DB_HOST: db.host, DB_PORT: String(db.port), DB_USER: db.user, DB_PASS: db.password, DB_DATABASE: db.database, ...bind.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const onData = (d: Buffer) => {
    for (const l of d.toString().split('\n')) {
      if (!l.trim()) continue;
      lines.push(l);
      if (lines.length > 200) lines.shift();
      opts.onLine?.(l);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${opts.port}/`;
  const query = async <T>(q: string, variables?: Record<string, unknown>): Promise<T> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q, variables }) });
    const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join('; ')}`);
    return body.data as T;
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`subql-query exited with ${child.exitCode}:\n${lines.slice(-30).join('\n')}`);
    try {
      await query('{ _metadata { lastProcessedHeight } }');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`subql-query did not answer on ${url}:\n${lines.slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    url,
    process: child,
    query,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function main() {
  const config = loadConfigOrExit({
    DATABASE_URL: z.string().url().optional(),
    EMBEDDED_PG_PORT: env.port(54320),
    INDEXER_DB_SCHEMA: z.string().default('descrow_index'),
    QUERY_PORT: env.port(3000),
    /** The address to listen on; unset = every interface (@subql/query's own behaviour). `npm start` sets 127.0.0.1. */
    INDEXER_BIND_HOST: z.string().min(1).optional(),
    LOG_LEVEL: z.string().default('info'),
  });
  // Without DATABASE_URL: the embedded Postgres that `npm start` / `npm run indexer` runs.
  const databaseUrl = config.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${config.EMBEDDED_PG_PORT}/descrow`;
  const svc = await startQueryService({
    databaseUrl,
    schema: config.INDEXER_DB_SCHEMA,
    port: config.QUERY_PORT,
    bindHost: config.INDEXER_BIND_HOST,
    // Request lines only at LOG_LEVEL=debug (or trace).
    logLevel: ['debug', 'trace'].includes(config.LOG_LEVEL) ? 'debug' : 'warn',
    onLine: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(`[query] GraphQL on ${svc.url} (schema ${config.INDEXER_DB_SCHEMA})\n`);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await svc.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  svc.process.once('exit', (code) => {
    if (!stopping) process.exit(code ?? 1);
  });
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`[query] ${e.message}`);
    process.exit(1);
  });
}
