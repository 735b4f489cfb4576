/**
 * Callback authentication that survives a leak (issue 15, point 4). The oracle's own log
 * output, at debug level, over a whole journey (STK callback, B2C result and queue timeout,
 * Transaction Status) and a refused forgery, holds neither the callback key nor any
 * request's callback secret. Before, every B2C result and timeout URL was logged with the
 * token that was the only authentication on those callbacks.
 */
import { payoutSplit } from '@descrow/contracts';
import type { OracleConfig } from '../src/config';
import { callbackSecret, type CallbackPath } from '../src/context';
import { eventually, OracleHarness, sleep } from './harness';

const h = new OracleHarness();
beforeAll(async () => {
  await h.start('logs', {}, { LOG_LEVEL: 'debug', ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
}, 60_000);
afterAll(async () => h.stop());

test('no callback secret reaches a log line, whatever the callback', async () => {
  const oracle = await h.oracleProcess({}, undefined, true);
  try {
    const sellerPhone = '254711000801';
    // The first B2C attempt's result is late (a queue timeout first): result, timeout and status URLs all get used.
    await h.control('POST', '/rules', { product: 'b2c', phone: sellerPhone, outcome: 'success', delivery: { mode: 'timeout_then_result', delayMs: 2_000 } });
    const orderId = await h.deliveredOrder(oracle.url, sellerPhone, 900, 20_000);
    await eventually(() => h.getOrder(orderId), (o) => o.status === 5, 30_000, 'completed');
    expect((await h.pool.query(`SELECT amount_kes FROM oracle.payouts WHERE order_id=$1 AND status='succeeded'`, [orderId])).rows).toEqual([{ amount_kes: Number(payoutSplit(900n, 250).sellerAmount) }]);
    // A forger guessing at a URL is refused and logged — without what they sent as the secret.
    const requestId = await h.requestIdOf(orderId);
    const guess = 'AAAAguessedSecretAAAAAAAAAAAAAAA';
    expect((await fetch(`${oracle.url}/hooks/stk/${guess}/${requestId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    await sleep(1_500); // the logger flushes its buffer every second

    const log = oracle.stdout!();
    expect(log).toMatch(/"url":"\/hooks\/b2c\/result\/:token\/:ref"/); // the callbacks were logged, by route
    expect(log).toMatch(/"url":"\/hooks\/b2c\/timeout\/:token\/:ref"/);
    const config = { ORACLE_CALLBACK_TOKEN: h.env.ORACLE_CALLBACK_TOKEN } as OracleConfig;
    const payoutIds = (await h.pool.query(`SELECT id FROM oracle.payouts WHERE order_id=$1`, [orderId])).rows.map((r) => r.id as string);
    const secrets = [h.env.ORACLE_CALLBACK_TOKEN!, guess];
    for (const ref of [requestId, ...payoutIds]) {
      for (const kind of ['stk', 'b2c/result', 'b2c/timeout', 'status/result', 'status/timeout'] as CallbackPath[]) secrets.push(callbackSecret(config, kind, ref));
    }
    for (const s of secrets) expect(log).not.toContain(s);
  } finally {
    await oracle.stop();
  }
}, 90_000);
