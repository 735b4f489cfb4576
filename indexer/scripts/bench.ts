/**
 * `npm run bench:indexer`: index ≥ 5,000 contract events with the real node twice —
 * one event per block, and 100 events per block — check the index against the chain,
 * and print events/s. Each mode: a fresh anvil + contract, mined once, then indexed
 * BENCH_RUNS times (default 3), each time into a fresh database; the median is reported.
 *
 * Reported rate = events / (time from the node starting on the first block, read from its
 * own /meta, to the head being flushed to Postgres), so the node's fixed start-up (schema
 * creation, ~3 s) is shown separately. The node's CPU time over the same span (per 1,000
 * events or blocks) is printed too: it moves far less than the rate when other work shares
 * the machine, so it is the figure to compare two versions of the code on a busy day.
 *
 * Sparse mode (BENCH_MODES=sparse): a chain of BENCH_SPARSE_BLOCKS blocks (default 20,000)
 * with one createOrder every BENCH_SPARSE_EVERY blocks (default 100), the shape of a real
 * chain to an escrow contract; the rate is blocks/s from the first block to the head.
 *
 * Ours runs with the dictionary served from eth_getLogs (scripts/dictionary.ts) unless
 * BENCH_DICTIONARY says "off" (sets separated by "|" pair with BENCH_FLAGS' sets, e.g.
 * "on|off" compares both on the same chain); the yardstick never has one.
 *
 * Freshness modes (BENCH_MODES=fresh1,fresh6; ./freshness.ts): anvil mining a block every
 * 1 s or 6 s, the node and the API running; p50/p99 of block → visible through the API's
 * `order(id)` and its `orderUpdated` subscription, over BENCH_FRESH_SAMPLES (default 20).
 *
 * BENCH_EVENTS (default 5000), BENCH_MODES (default "1,100"), BENCH_RUNS, BENCH_FLAGS
 * (space-separated node flags replacing the tuned defaults; several sets separated by "|"
 * are compared on the same chain), BENCH_NODE_ARGS (Node.js flags of the node process), BENCH_ENV
 * (its environment, e.g. "PGOPTIONS=-c synchronous_commit=off"; sets separated by "|" too)
 * and DATABASE_URL (default: local Postgres) can be set. BENCH_BASELINE=1 also runs, run
 * for run on the same chain, the yardstick: straightforward per-event handlers
 * (scripts/baseline/), so the speed-up can be read off one moment of this drifting VM.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { Hex } from 'viem';
import { Pool, withDatabase } from '@descrow/common';
import { DEFAULT_NODE_FLAGS, startIndexerNode } from './node';
import { PARTIES, orderId, saltFor, startDevChain, type Call, type DevChain } from './chain';
import { compareWithChain } from './verify';
import { prepareIndexer, writeRunProject } from './prepare';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IndexerTarget } from '../../project';
import { writeBaselineProject } from './baseline/project';
import type { FreshnessResult } from './freshness';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
/** "a b|c d" → [["a","b"],["c","d"]]: several sets of space-separated words. */
const wordSets = (v: string) => v.split('|').map((set) => set.split(/\s+/).filter(Boolean));
const FLAG_SETS: string[][] = process.env.BENCH_FLAGS ? wordSets(process.env.BENCH_FLAGS) : [DEFAULT_NODE_FLAGS];
// Node.js flags of the node process; several sets separated by "|" pair with BENCH_FLAGS' sets.
const NODE_ARG_SETS: (string[] | undefined)[] = process.env.BENCH_NODE_ARGS ? wordSets(process.env.BENCH_NODE_ARGS) : [undefined];
// Environment of the node process ("K=V K2=V2"); several sets separated by "|" pair with BENCH_FLAGS' sets.
const ENV_SETS: Record<string, string>[] = (process.env.BENCH_ENV ?? '').split('|').map((set) =>
  Object.fromEntries(set.split(/\s+(?=[A-Z_]+=)/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
);
/** Set k of a list of sets, or its last set when it has fewer: sets pair up column by column. */
const nth = <T>(sets: T[], k: number): T => sets[Math.min(k, sets.length - 1)]!;
const BASELINE = process.env.BENCH_BASELINE === '1';
// BENCH_ABI="on|off": with or without the ABI on our data source (sets pair like BENCH_FLAGS').
const ABI_SETS: boolean[] = (process.env.BENCH_ABI ?? 'on').split('|').map((v) => v.trim() !== 'off');
const DICTIONARY_SETS: boolean[] = (process.env.BENCH_DICTIONARY ?? 'on').split('|').map((v) => v.trim() !== 'off');
const SPARSE_BLOCKS = Number(process.env.BENCH_SPARSE_BLOCKS ?? 20_000);
const SPARSE_EVERY = Number(process.env.BENCH_SPARSE_EVERY ?? 100);

/** What one column of runs indexes with: node flags, Node.js flags, and the project (ours, or the yardstick). */
interface Setting { label: string; flags: string[]; execArgv?: string[]; env?: Record<string, string>; baseline: boolean; dictionary: boolean; abi: boolean }
const SETTINGS: Setting[] = [
  ...Array.from({ length: Math.max(FLAG_SETS.length, NODE_ARG_SETS.length, ENV_SETS.length, DICTIONARY_SETS.length, ABI_SETS.length) }, (_, k) => {
    const [flags, execArgv, env, dictionary, abi] = [nth(FLAG_SETS, k), nth(NODE_ARG_SETS, k), nth(ENV_SETS, k), nth(DICTIONARY_SETS, k), nth(ABI_SETS, k)];
    const label = [...Object.entries(env).map(([key, v]) => `${key}=${v}`), ...(execArgv ?? []), ...flags, dictionary ? 'dictionary' : 'no dictionary', ...(abi ? [] : ['no ABI'])].join(' ');
    return { label, flags, execArgv, env, baseline: false, dictionary, abi };
  }),
  ...(BASELINE ? [{ label: 'baseline: straightforward handlers', flags: DEFAULT_NODE_FLAGS, baseline: true, dictionary: false, abi: false }] : []),
];
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);

/** Each call emits exactly one event: create, fund, ship, dispute for a quarter of the events each. */
function workload(label: string, events: number): { calls: Call[]; ids: Hex[] } {
  const n = Math.ceil(events / 4);
  const party = (i: number): [Hex, Hex] => [PARTIES[i % PARTIES.length] as Hex, PARTIES[(i + 1) % PARTIES.length] as Hex];
  const ids = Array.from({ length: n }, (_, i) => orderId(`bench-${label}-${i}`, party(i)[0]));
  const calls: Call[] = [
    ...ids.map((id, i): Call => ({ from: party(i)[0], fn: 'createOrder', args: [saltFor(id), party(i)[1], BigInt(1_000 + i), 0, `bafy-${i}`] })),
    ...ids.map((id, i): Call => ({ from: party(i)[0], fn: 'fundOrder', args: [id], value: BigInt(1_000 + i) })),
    ...ids.map((id, i): Call => ({ from: party(i)[1], fn: 'markShipped', args: [id, `bafy-track-${i}`] })),
    ...ids.map((id, i): Call => ({ from: i % 2 ? party(i)[1] : party(i)[0], fn: 'raiseDispute', args: [id, `bafy-evidence-${i}`] })),
  ];
  return { calls, ids };
}

/** A mode: "1", "100" (events per block) or "sparse". */
type Mode = string;
type Result = { mode: Mode; label: string; baseline: boolean; events: number; blocks: number; rates: number[]; rate: number; startup: number; wall: number; cpu?: number };
/** cpu: the node process's CPU time (user + system) over the measured span, in ms — steadier than the rate on a busy machine. */
type Run = { events: number; rate: number; startup: number; wall: number; cpu?: number };

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    // Fields after the command name's closing parenthesis: utime is the 12th, stime the 13th (clock ticks, 100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
/** What a mode's rate counts. */
const unitOf = (mode: Mode) => (mode === 'sparse' ? 'blocks' : 'events');

/** A sparse chain: one createOrder every `every` blocks, `blocks` blocks in all. */
async function mineSparse(chain: DevChain, blocks: number, every: number): Promise<Hex[]> {
  const ids: Hex[] = [];
  const party = (i: number): [Hex, Hex] => [PARTIES[i % PARTIES.length] as Hex, PARTIES[(i + 1) % PARTIES.length] as Hex];
  for (let i = 0; i < Math.floor(blocks / every); i++) {
    const id = orderId(`sparse-${i}`, party(i)[0]);
    ids.push(id);
    await chain.mineEmpty(every - 1);
    await chain.mine([{ from: party(i)[0], fn: 'createOrder', args: [saltFor(id), party(i)[1], BigInt(1_000 + i), 0, `bafy-${i}`] }]);
  }
  await chain.mineEmpty(blocks % every);
  return ids;
}

/** The run with the median rate. */
const medianRun = (runs: Run[]) => [...runs].sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)]!;

async function runMode(mode: Mode): Promise<Result[]> {
  const chain = await startDevChain();
  try {
    const label = mode === 'sparse' ? 'sparse' : `b${mode}`;
    const t0 = Date.now();
    let ids: Hex[];
    if (mode === 'sparse') {
      ids = await mineSparse(chain, SPARSE_BLOCKS, SPARSE_EVERY);
    } else {
      const perBlock = Number(mode);
      const w = workload(label, EVENTS);
      ids = w.ids;
      if (perBlock === 1) await chain.mineEach(w.calls, (d) => say(`  chain: ${d}/${w.calls.length} blocks mined`));
      else await chain.mine(w.calls, perBlock);
    }
    const head = await chain.head();
    const blocks = head - chain.deployment.deployBlock;
    say(`${mode === 'sparse' ? `sparse (one order every ${SPARSE_EVERY} blocks)` : `${mode} event(s)/block`}: ${ids.length} orders in ${blocks} blocks mined in ${Date.now() - t0} ms`);
    const results: Result[] = [];
    // Settings are interleaved run by run, so a noisy neighbour hurts them all alike.
    const runs: Run[][] = SETTINGS.map(() => []);
    for (let i = 1; i <= RUNS; i++) {
      for (const [k, setting] of SETTINGS.entries()) {
        const r = await indexOnce(chain, label, ids, head, setting, mode === 'sparse' ? blocks : undefined);
        say(`  run ${i}/${RUNS} [${setting.label}]: ${Math.round(r.rate)} ${unitOf(mode)}/s (start-up ${(r.startup / 1000).toFixed(1)} s${r.cpu === undefined ? '' : `, node CPU ${Math.round(r.cpu)} ms`})`);
        runs[k]!.push(r);
      }
    }
    for (const [k, setting] of SETTINGS.entries()) {
      const rates = runs[k]!.map((r) => r.rate);
      const mid = medianRun(runs[k]!);
      // CPU: the median over the runs on its own (the run with the median rate may be a noisy one).
      const cpuTimes = runs[k]!.map((r) => r.cpu).filter((c): c is number => c !== undefined).sort((x, y) => x - y);
      results.push({ mode, label: setting.label, baseline: setting.baseline, blocks, rates, ...mid, cpu: cpuTimes[Math.floor(cpuTimes.length / 2)] });
    }
    return results;
  } finally {
    await chain.stop();
  }
}

/** Our project without the ABI on its data source (BENCH_ABI=off), to measure what the node's decoding costs. */
function writeProjectWithoutAbi(target: IndexerTarget, name: string): string {
  const file = writeRunProject(target, name);
  const [comment, ...rest] = readFileSync(file, 'utf8').split('\n');
  const manifest = JSON.parse(rest.join('\n')) as { dataSources: { options: { abi?: string }; assets?: unknown }[] };
  for (const ds of manifest.dataSources) {
    delete ds.options.abi;
    delete ds.assets;
  }
  writeFileSync(file, `${comment}\n${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

/** Index the chain once; the rate is events/s, or blocks/s when `blocks` (the blocks to the head) is given. */
async function indexOnce(chain: DevChain, label: string, ids: Hex[], head: number, setting: Setting, blocks?: number): Promise<Run> {
  const dbName = `descrow_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: withDatabase(SERVER, 'postgres'), max: 1 });
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const databaseUrl = withDatabase(SERVER, dbName);
  const schema = `bench_${label}`;
  try {
    const started = Date.now();
    const node = await startIndexerNode({
      databaseUrl,
      schema,
      flags: setting.flags,
      execArgv: setting.execArgv,
      env: setting.env,
      target: chain.target,
      project: setting.baseline ? writeBaselineProject : setting.abi ? undefined : writeProjectWithoutAbi,
      logsDictionary: setting.dictionary,
    });
    // Start: the moment the node is processing the first block after the deployment
    // (its in-memory /meta; Postgres only sees a block once the store cache is flushed).
    // End: the head is flushed to Postgres. Start-up before that is reported apart.
    let first = 0;
    let cpuAtFirst: number | undefined;
    let watching = true;
    // Sparse mode starts the clock earlier, when the node first knows the chain's head (its
    // /meta has a bestHeight): right before it asks a dictionary for the first blocks, which
    // a clock started at the first processed block would leave out.
    const clockStarts = async () => (blocks === undefined ? (await node.processingHeight()) > chain.deployment.deployBlock : typeof (await node.meta())?.bestHeight === 'number');
    const watchStart = (async () => {
      while (!first && watching) {
        if (await clockStarts()) {
          first = Date.now();
          cpuAtFirst = cpuMs(node.process.pid);
        }
        else await new Promise((r) => setTimeout(r, 20));
      }
      // BENCH_TRACE=1: where the node is every 250 ms, to see where a run's time goes.
      while (process.env.BENCH_TRACE === '1' && watching) {
        say(`    +${Date.now() - first} ms: processing ${await node.processingHeight()}, flushed ${await node.processedHeight()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    let lastReport = 0;
    try {
      await node.waitForHeight(head, 600_000, (h) => {
        if (Date.now() - lastReport > 2_000) {
          lastReport = Date.now();
          say(`  indexed block ${h}/${head}`);
        }
      });
      const done = Date.now();
      const cpuAtDone = cpuMs(node.process.pid);
      watching = false;
      await watchStart;
      const r = await compareWithChain({ chain, pool: node.pool, schema }, ids);
      const events = r.logs;
      if (r.diffs.length || r.events !== r.logs || r.orders !== ids.length) {
        throw new Error(`index differs from the chain: ${r.events} events for ${r.logs} logs, ${r.orders}/${ids.length} orders, ${r.diffs.length} orders differ, e.g. ${r.diffs.slice(0, 3).join('; ')}`);
      }
      const rate = (blocks ?? events) / ((done - first) / 1000);
      say(`  correct: ${r.orders} orders equal getOrder/payoutSplit, ${r.events} OrderEvents = ${r.logs} logs`);
      const cpu = cpuAtFirst === undefined || cpuAtDone === undefined ? undefined : cpuAtDone - cpuAtFirst;
      return { events, rate, startup: first - started, wall: done - started, cpu };
    } finally {
      watching = false;
      await node.stop();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

async function main() {
  await prepareIndexer(say);
  say(`${cpus().length} cores, Node ${process.versions.node}, ${RUNS} run(s) per setting: ${SETTINGS.map((s) => s.label).join(' | ')}`);
  const results: Result[] = [];
  const fresh: FreshnessResult[] = [];
  // Loaded only for the freshness modes: it starts the API (Prisma's generated client).
  const { measureFreshness, percentile } = await import('./freshness');
  for (const mode of (process.env.BENCH_MODES ?? '1,100').split(',').map((m) => m.trim())) {
    if (mode.startsWith('fresh')) fresh.push(await measureFreshness(Number(mode.slice(5)), Number(process.env.BENCH_FRESH_SAMPLES ?? 20), SERVER, say));
    else results.push(...(await runMode(mode)));
  }
  say('');
  if (fresh.length) {
    say('| block time | samples | order(id) p50 | p99 | max | orderUpdated p50 | p99 | max |');
    say('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const f of fresh) {
      say(`| ${f.blockTime} s | ${f.samples} | ${percentile(f.query, 50)} ms | ${percentile(f.query, 99)} ms | ${Math.max(...f.query)} ms | ${percentile(f.subscription, 50)} ms | ${percentile(f.subscription, 99)} ms | ${Math.max(...f.subscription)} ms |`);
    }
    if (!results.length) return;
  }
  const many = SETTINGS.length > 1;
  say(`| mode | events | blocks |${many ? ' setting |' : ''} rate (median) | runs | node CPU / 1,000 ${results[0] ? unitOf(results[0].mode) : 'events'} | node start-up | wall (incl. start-up) |`);
  say(`| --- | ---: | ---: |${many ? ' --- |' : ''} ---: | ---: | ---: | ---: | ---: |`);
  for (const r of results) {
    const mode = r.mode === 'sparse' ? 'sparse' : `${r.mode}/block`;
    say(`| ${mode} | ${r.events} | ${r.blocks} |${many ? ` ${r.label} |` : ''} **${Math.round(r.rate)}** ${unitOf(r.mode)}/s | ${r.rates.map(Math.round).join(', ')} | ${r.cpu === undefined ? '–' : `${Math.round((r.cpu * 1000) / (r.mode === 'sparse' ? r.blocks : r.events))} ms`} | ${(r.startup / 1000).toFixed(1)} s | ${(r.wall / 1000).toFixed(1)} s |`);
  }
  if (BASELINE) {
    for (const mode of new Set(results.map((r) => r.mode))) {
      const base = results.find((r) => r.mode === mode && r.baseline);
      for (const ours of results.filter((r) => r.mode === mode && !r.baseline)) {
        if (base) say(`${mode}${mode === 'sparse' ? '' : ' event(s)/block'} [${ours.label}]: ${(ours.rate / base.rate).toFixed(2)}× the straightforward handlers`);
      }
    }
  }
}

main().catch((e: Error) => {
  console.error(`[bench] ${e.stack ?? e.message}`);
  process.exit(1);
});
