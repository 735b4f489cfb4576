/**
 * Outsider's attack on the callback routes with bodies Daraja never sends, through one
 * leaked callback URL (its path secret opens that one request only). Each must get a clear
 * 4xx, never a 500 or a stack trace, and must not take anyone else's callback down with it:
 * callbacks are stored in group commits (one INSERT for all that arrive together), and
 * before, one body Postgres cannot store (a NUL character, which jsonb refuses) failed the
 * whole batch — every genuine callback that arrived with it was answered 500 and lost.
 */
import { randomUUID } from 'node:crypto';
import { CallbackWriter } from '../src/ledger/callbacks';
import { OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
beforeAll(async () => {
  await h.start('atk-bodies', {}, { ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const post = (path: string, body: string, type = 'application/json') =>
  fetch(`${oracle.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
const stkBody = (checkoutId: string, desc = 'Request cancelled by user') =>
  JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm-1', CheckoutRequestID: checkoutId, ResultCode: 1032, ResultDesc: desc } } });
const stored = async () => Number((await h.pool.query(`SELECT count(*) FROM oracle.callbacks`)).rows[0].count);

test('bodies Daraja never sends get a clear 4xx (no 500, no stack trace) and store nothing', async () => {
  const leaked = h.hook('stk', randomUUID());
  const before = await stored();
  const bodies: [string, string, string?][] = [
    ['a NUL character in a string', stkBody('ws_CO_nul', 'cancelled\u0000')],
    ['a NUL character in a key', JSON.stringify({ 'Body\u0000': 1 })],
    ['nested 12,000 deep (past Postgres\' and JSON.stringify\'s stacks)', `{"Body":${'['.repeat(12_000)}${']'.repeat(12_000)}}`],
    ['nested 40 deep', `{"Body":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`],
    ['malformed JSON', '{"Body": {'],
    ['a prototype-pollution key', '{"__proto__": {"admin": true}}'],
    ['not JSON at all', 'Body=1', 'text/plain'],
    ['JSON that is not an object: null', 'null'],
    ['JSON that is not an object: an array', '[{"Body": {}}]'],
    ['JSON that is not an object: a string', '"Body"'],
    ['over the body limit', JSON.stringify({ pad: 'x'.repeat(70 * 1024) })],
  ];
  for (const [what, body, type] of bodies) {
    const res = await post(leaked, body, type);
    const text = await res.text();
    expect({ what, status: res.status }).toEqual({ what, status: expect.any(Number) });
    expect({ what, clientError: res.status >= 400 && res.status < 500 }).toEqual({ what, clientError: true });
    expect(text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+/);
  }
  expect(await stored()).toBe(before);
});

test('a body Postgres cannot store, sent with genuine callbacks, fails alone: every genuine callback is acknowledged and stored', async () => {
  const leaked = h.hook('stk', randomUUID());
  const before = await stored();
  const ROUNDS = 5;
  const GENUINE = 20;
  let genuineOk = 0;
  const poisonStatuses: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Sent together so they share group commits with the poisoned one.
    const genuine = Array.from({ length: GENUINE }, (_, i) => post(h.hook('stk', randomUUID()), stkBody(`ws_CO_${round}_${i}`)));
    const poison = post(leaked, stkBody(`ws_CO_poison_${round}`, '\u0000'));
    const [p, ...g] = await Promise.all([poison, ...genuine]);
    poisonStatuses.push(p.status);
    genuineOk += g.filter((r) => r.status === 200).length;
  }
  expect(genuineOk).toBe(ROUNDS * GENUINE);
  expect(await stored()).toBe(before + ROUNDS * GENUINE);
  expect(poisonStatuses.every((s) => s === 400)).toBe(true);
});

test('the group commit writes a refused batch one by one: only the callback Postgres refuses fails', async () => {
  // Whatever the route lets through, one row the database refuses must not fail the rows written with it.
  const writer = new CallbackWriter(h.pool);
  const results = await Promise.allSettled([
    ...Array.from({ length: 10 }, (_, i) => writer.store('stk', { Body: { n: i } }, '127.0.0.1', `ws_CO_gc_${i}`)),
    writer.store('stk', { Body: { n: 'bad\u0000' } }, '127.0.0.1', 'ws_CO_gc_bad'),
    ...Array.from({ length: 10 }, (_, i) => writer.store('stk', { Body: { n: 10 + i } }, '127.0.0.1', `ws_CO_gc_${10 + i}`)),
  ]);
  expect(results.map((r) => r.status)).toEqual([...Array(10).fill('fulfilled'), 'rejected', ...Array(10).fill('fulfilled')]);
  const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  expect(new Set(ids).size).toBe(20);
  const rows = (await h.pool.query(`SELECT id::text, correlation_id FROM oracle.callbacks WHERE correlation_id LIKE 'ws_CO_gc_%'`)).rows;
  expect(rows).toHaveLength(20);
  // Each caller got its own row's id back.
  for (const r of rows) expect(ids[Number(r.correlation_id.slice('ws_CO_gc_'.length))]).toBe(r.id);
});
