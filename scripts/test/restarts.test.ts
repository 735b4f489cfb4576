/**
 * Restarts are boring: five `npm start` / Ctrl-C cycles over one folder and one database, with
 * `npm run demo` (both journeys) between them. After every start the index equals the chain (every
 * order, field by field, and every event), every order made before is still there and
 * COMPLETED, the oracle's ledger still holds every payment and payout, and nothing of the stack
 * listens beyond 127.0.0.1. Every Ctrl-C stops the parts last-started first, each named once,
 * with no warning or error on the way.
 *
 * It failed before the dev chain's genesis was pinned (common/src/anvilState.ts): each anvil
 * start added a genesis block to the saved state, and once another one answered for block 0
 * the SubQuery node refused the index ("genesis hash does not match").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import type { Deployment } from '@descrow/contracts';
import type { DevChain } from '../../indexer/scripts/chain';
import { compareWithChain } from '../../indexer/scripts/verify';
import { actors } from '../journeys';
import { startStack, type RunningStack } from './stack';

const ROOT = resolve(__dirname, '../..');
const CYCLES = 5;
const SCHEMA = 'descrow_index';
const log = (l: string) => process.env.E2E_VERBOSE && process.stdout.write(`${l}\n`);

/** Waits until the index has processed the chain's current head, then compares every order and the event count with the chain. */
async function indexEqualsChain(stack: RunningStack, pool: Pool, known: string[]): Promise<{ orders: number; events: number; logs: number; diffs: string[] }> {
  const deployment = JSON.parse(readFileSync(stack.s.urls.deploymentFile, 'utf8')) as Deployment;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const res = await fetch(stack.s.urls.rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
    return ((await res.json()) as { result: T }).result;
  };
  const chain = { rpc, deployment } as unknown as DevChain;
  const head = Number(BigInt(await rpc<string>('eth_blockNumber')));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await pool.query<{ value: unknown }>(`SELECT value FROM "${SCHEMA}"._metadata WHERE key = 'lastProcessedHeight'`);
    if (Number(rows[0]?.value ?? -1) >= head) break;
    if (Date.now() > deadline) throw new Error(`the index did not reach block ${head} within 60 s (at ${String(rows[0]?.value)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM "${SCHEMA}".orders WHERE upper_inf(_block_range)`);
  const ids = [...new Set([...known.map((id) => id.toLowerCase()), ...rows.map((r) => r.id)])];
  return compareWithChain({ chain, pool, schema: SCHEMA }, ids);
}

/** `npm run demo` against the stack (scripts/demo.ts, as `npm run demo` runs it). */
function runDemo(stack: RunningStack): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'scripts/demo.ts')], {
      cwd: ROOT,
      env: { ...process.env, API_PORT: String(stack.ports.api), DARAJA_SIM_PORT: String(stack.ports.sim), RPC_URL: stack.s.urls.rpc, DEPLOYMENT_FILE: stack.s.urls.deploymentFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** TCP sockets listening on `ports`, with their local address (from /proc/net/tcp and tcp6). */
function listeners(ports: number[]): { port: number; address: string }[] {
  const out: { port: number; address: string }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A = LISTEN
      const [hex, portHex] = local.split(':');
      const port = parseInt(portHex!, 16);
      if (!ports.includes(port)) continue;
      const address = hex === '0100007F' ? '127.0.0.1' : hex === '00000000000000000000000001000000' ? '::1' : hex === '0000000000000000FFFF00000100007F' ? '::ffff:127.0.0.1' : hex!;
      out.push({ port, address });
    }
  }
  return out;
}

test(`${CYCLES} start/Ctrl-C cycles with npm run demo between them (DOT and shillings, the receipt, the console page): the index equals the chain every time, every order and the ledger are kept, only loopback is listened on, and every stop is clean and in order`, async () => {
  const db = await createTestDatabase('restarts');
  const dir = mkdtempSync(join(tmpdir(), 'descrow-restarts-'));
  const pool = new Pool({ connectionString: db.url, max: 2 });
  const { buyer } = actors();
  const orders: string[] = [];
  try {
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const stack = await startStack('restarts', { DARAJA_SIM_STK_RESOLVE_MS: '0' }, log, { databaseUrl: db.url, dir });
      let stopped = false;
      try {
        // Nothing of the stack is reachable from the network.
        const open = listeners(Object.values(stack.ports)).filter((l) => !['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(l.address));
        expect([cycle, open]).toEqual([cycle, []]);
        expect(stack.output()).toContain('listening on 127.0.0.1 only');

        // Everything from the cycles before is still there, and the index is the chain's.
        const before = await indexEqualsChain(stack, pool, orders);
        expect([cycle, before.diffs]).toEqual([cycle, []]);
        expect([cycle, before.orders]).toEqual([cycle, orders.length]);
        expect([cycle, before.events]).toEqual([cycle, before.logs]);
        for (const id of orders) expect([cycle, id, (await stack.s.order(id, buyer)).status]).toEqual([cycle, id, 'COMPLETED']);
        const ledger = await pool.query<{ paid: string; payouts: string }>(
          `SELECT (SELECT count(*) FROM oracle.payment_requests WHERE status = 'paid') AS paid, (SELECT count(*) FROM oracle.payouts WHERE status = 'succeeded') AS payouts`,
        );
        expect([cycle, Number(ledger.rows[0]!.paid), Number(ledger.rows[0]!.payouts)]).toEqual([cycle, cycle - 1, cycle - 1]);

        // The demo (`npm run demo`), as a newcomer runs it against this stack: both journeys,
        // told in DOT and shillings, the collection's M-Pesa receipt, the order's console page.
        const demo = await runDemo(stack);
        expect([cycle, demo.code, demo.stderr]).toEqual([cycle, 0, '']);
        expect(demo.stdout).not.toMatch(/\bwei\b/);
        expect(demo.stdout).toMatch(/lists "Kiondo basket" for 0\.5 DOT or KES 1,500/);
        expect(demo.stdout).toMatch(/done: COMPLETED; fee 0\.0125 DOT; the seller's wallet grew by 0\.48\d{1,4} DOT \(paid 0\.4875 DOT/);
        expect(demo.stdout).toMatch(/paid: M-Pesa receipt [A-Z0-9]{10} for KES 1,500 from the buyer's phone/);
        expect(demo.stdout).toMatch(/B2C payout [A-Z0-9]{10} of KES 1,463 to 254722000111 \(KES 1,500 − fee KES 37 = KES 1,463\)/);
        const native = /native order (0x[0-9a-f]{64})/.exec(demo.stdout)![1]!;
        const mpesa = /M-Pesa order (0x[0-9a-f]{64})/.exec(demo.stdout)![1]!;
        const lastLine = demo.stdout.trim().split('\n').pop()!;
        expect(lastLine).toBe(`[demo] see it in the console: http://localhost:${stack.ports.api}/console/order/${mpesa} (and the DOT order: /console/order/${native})`);
        const page = await fetch(`http://127.0.0.1:${stack.ports.api}/console/order/${mpesa}`);
        expect([page.status, (await page.text()).includes('<div id="root">')]).toEqual([200, true]);
        orders.push(native, mpesa);
        const after = await indexEqualsChain(stack, pool, orders);
        expect([cycle, after.diffs, after.orders]).toEqual([cycle, [], orders.length]);

        // Ctrl-C.
        const mark = stack.output().length;
        await stack.stop();
        stopped = true;
        const stop = stack.output().slice(mark);
        const stoppedParts = [...stop.matchAll(/^\[start\] stopped (\S+) \((\d+ ms)\)$/gm)].map((m) => m[1]);
        expect([cycle, stoppedParts]).toEqual([cycle, ['api', 'query', 'indexer', 'oracle', 'daraja-sim', 'chain']]);
        const noisy = stop.split('\n').filter((l) => /WARN|ERROR|"level":(40|50|60)|Error:|^\s+at /.test(l));
        expect([cycle, noisy]).toEqual([cycle, []]);
      } finally {
        if (!stopped) await stack.stop();
      }
    }
  } finally {
    await pool.end();
    await db.drop();
  }
}, 15 * 60_000);
