/**
 * The oracle's /metrics, scraped for real while payments and payouts go through the
 * Daraja simulator: served on the internal listener only, and the figures an operator
 * alerts on move — an unanswered STK push shows as pending with an age, a B2C refusal and
 * a payout for a person show up, reconciliation counts it, and a stopped chain reads as
 * down (and no nonce gap is invented while it is). And a payout is one trace, from its send
 * to the chain record of its receipt.
 */
import type { Hex } from 'viem';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing, type Tracing } from '@descrow/common';
import { parseMetrics, scrape, type Scrape } from '@descrow/common/src/testing/metrics';
import { eventually, OracleHarness, type OracleUnderTest } from './harness';
import { nonceGaps } from '../src/metrics';

const h = new OracleHarness();
let oracle: OracleUnderTest;
let metricsUrl: string;
const spans = new InMemorySpanExporter();
let tracing: Tracing;
beforeAll(async () => {
  // Spans of the in-process oracle, kept in memory for the payout's trace below.
  tracing = startTracing('descrow-test', { processors: [new SimpleSpanProcessor(spans)] });
  await h.start('metrics', {}, { ORACLE_RECONCILE_INTERVAL_SECONDS: '0', ORACLE_PULL_INTERVAL_SECONDS: '0' });
  oracle = await h.oracleInProcess();
  metricsUrl = `${h.internalUrl(oracle.url)}/metrics`;
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
  await tracing?.shutdown();
});

const until = (what: string, ok: (s: Scrape) => boolean, ms = 20_000) => eventually(() => scrape(metricsUrl), ok, ms, what);

test('/metrics answers on the internal listener only; the public listener says 404', async () => {
  const pub = await fetch(`${oracle.url}/metrics`);
  expect(pub.status).toBe(404);
  expect(await pub.text()).not.toContain('descrow_');
  const s = await scrape(metricsUrl);
  // Node's process metrics, prefixed per service.
  expect(s.value('descrow_oracle_process_resident_memory_bytes')).toBeGreaterThan(0);
  // A quiet ledger: nothing open, no gap, the chain answers.
  expect(s.value('descrow_oracle_outbox_rows', { status: 'pending' })).toBe(0);
  expect(s.value('descrow_oracle_payouts', { status: 'needs_attention' })).toBe(0);
  expect(s.value('descrow_oracle_chain_up')).toBe(1);
  expect(s.value('descrow_oracle_chain_writer_nonce_gaps')).toBe(0);
});

test('an STK push nobody answers is pending with a growing age; the request and the Daraja call are counted', async () => {
  const phone = '254711000701';
  await h.control('POST', '/rules', { product: 'stk', phone, outcome: 'pending' });
  const orderId = h.newOrderId();
  const res = await h.requestStk(oracle.url, h.stkBody(orderId, 1_000, phone));
  expect(res.status).toBe(201);
  const s = await until('pending request aged', (x) => (x.value('descrow_oracle_payment_requests_oldest_age_seconds', { status: 'pending' }) ?? 0) >= 1);
  expect(s.value('descrow_oracle_payment_requests', { status: 'pending' })).toBe(1);
  expect(s.value('descrow_oracle_daraja_requests_total', { endpoint: 'stk_push', result: 'ok' })).toBe(1);
  expect(s.value('descrow_oracle_http_request_duration_seconds_count', { route: '/internal/stk', status: '201' })).toBe(1);
}, 30_000);

/** A paid M-Pesa order, delivered: the seller's payout is due. */
const deliveredOrder = (sellerPhone: string): Promise<Hex> => h.deliveredOrder(oracle.url, sellerPhone);

test('Daraja refusing B2C: refusals are counted, the payout waits for a person, and reconciliation reports it', async () => {
  const before = await scrape(metricsUrl);
  expect(before.value('descrow_oracle_reconciliation_last_run_age_seconds')).toBeUndefined(); // no run yet
  expect(before.sum('descrow_oracle_callbacks_total', { kind: 'stk', outcome: 'paid' })).toBe(0);
  // The gateway refuses B2C for a while (a 503 that changes nothing: retryable), then the recipient is refused for good.
  const phone = '254711000702';
  await h.control('POST', '/faults', { path: '/mpesa/b2c/v3/paymentrequest', errorCode: '500.003.02', count: 2 });
  await h.control('POST', '/rules', { product: 'b2c', phone, outcome: 'not_registered' });
  const orderId = await deliveredOrder(phone);
  // The payment's chain record was broadcast and its callback decided.
  const s = await until('payout needs a person', (x) => x.value('descrow_oracle_payouts', { status: 'needs_attention' }) === 1, 30_000);
  expect(s.sum('descrow_oracle_callbacks_total', { kind: 'stk', outcome: 'paid' })).toBe(1);
  expect(s.sum('descrow_oracle_callbacks_total', { kind: 'b2c_result' })).toBeGreaterThanOrEqual(1);
  expect(s.value('descrow_oracle_daraja_requests_total', { endpoint: 'b2c', result: 'retryable' })).toBe(2);
  expect(s.value('descrow_oracle_daraja_requests_total', { endpoint: 'b2c', result: 'ok' })).toBe(1);
  expect(s.sum('descrow_oracle_chain_transactions_total', { result: 'sent' })).toBeGreaterThanOrEqual(1);
  expect(s.value('descrow_oracle_payouts_oldest_age_seconds', { status: 'needs_attention' })).toBeGreaterThanOrEqual(0);
  expect((await h.pool.query(`SELECT status FROM oracle.payouts WHERE order_id=$1`, [orderId])).rows).toEqual([{ status: 'needs_attention' }]);
  // Nothing recorded on chain is left waiting: the outbox drains and no nonce was skipped.
  const drained = await until('outbox drained', (x) => x.value('descrow_oracle_outbox_rows', { status: 'pending' }) === 0 && x.value('descrow_oracle_outbox_rows', { status: 'sent' }) === 0);
  expect(drained.value('descrow_oracle_chain_writer_nonce_gaps')).toBe(0);

  const run = await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation`, { method: 'POST', headers: { authorization: `Bearer ${h.env.ORACLE_SERVICE_TOKEN ?? 'dev-service-token-change-me'}` } });
  expect(run.status).toBe(200);
  const after = await until('discrepancy reported', (x) => (x.value('descrow_oracle_reconciliation_discrepancies', { kind: 'payout_needs_attention' }) ?? 0) === 1);
  expect(after.value('descrow_oracle_reconciliation_discrepancies_count')).toBeGreaterThanOrEqual(1);
  expect(after.value('descrow_oracle_reconciliation_last_run_age_seconds')).toBeGreaterThanOrEqual(0);
}, 60_000);

test('a stopped chain reads as down, and no nonce gap is reported while it is unknown', async () => {
  h.anvil.process.kill('SIGSTOP');
  try {
    const s = await until('chain down', (x) => x.value('descrow_oracle_chain_up') === 0, 10_000);
    expect(s.value('descrow_oracle_chain_writer_nonce_gaps')).toBeUndefined();
    // The ledger figures are still there.
    expect(s.value('descrow_oracle_payouts', { status: 'needs_attention' })).toBe(1);
  } finally {
    h.anvil.process.kill('SIGCONT');
  }
  await until('chain back', (x) => x.value('descrow_oracle_chain_up') === 1);
}, 30_000);

test('nonce gaps: nonces below the highest waiting transaction that nothing holds', () => {
  expect(nonceGaps(5, [])).toBe(0);
  expect(nonceGaps(5, [5, 6, 7])).toBe(0);
  expect(nonceGaps(5, [6, 7])).toBe(1); // 5 is missing: 6 and 7 can never be mined
  expect(nonceGaps(5, [5, 9])).toBe(3);
  expect(nonceGaps(5, [3, 4])).toBe(0); // already mined (stale rows), not a gap
  expect(parseMetrics('# TYPE x gauge\nx{a="1"} 2\n').value('x', { a: '1' })).toBe(2);
});

test('a payout is one trace: its send, the Daraja call, the settlement of the result and the chain record of the receipt', async () => {
  const phone = '254711000703';
  spans.reset();
  const orderId = await deliveredOrder(phone);
  const { rows } = await eventually(
    () => h.pool.query(`SELECT p.id, p.mpesa_receipt, o.tx_hash FROM oracle.payouts p JOIN oracle.outbox o ON o.idempotency_key = 'payout:' || p.mpesa_receipt WHERE p.order_id=$1 AND o.tx_hash IS NOT NULL`, [orderId]),
    (r) => r.rows.length === 1, 30_000, 'the payout recorded on chain');
  const all = await eventually(async () => spans.getFinishedSpans(), (x) => x.some((sp) => sp.name === 'chain recordPayout' && sp.attributes['descrow.order_id'] === orderId), 10_000, 'the chain span');
  const send = all.find((sp) => sp.name === 'payout seller' && sp.attributes['descrow.order_id'] === orderId)!;
  const traceId = send.spanContext().traceId;
  const inTrace = all.filter((sp) => sp.spanContext().traceId === traceId);
  const named = (n: string) => inTrace.find((sp) => sp.name === n);
  // A trace of its own (the job that sent it is no request), with the Daraja call inside it.
  expect(send.parentSpanContext).toBeUndefined();
  expect(named('daraja b2c')?.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
  // The result callback, which carries no trace, is settled in the payout's, and so is the chain record.
  expect(named('payout settle')).toMatchObject({ attributes: expect.objectContaining({ 'mpesa.receipt': rows[0]!.mpesa_receipt, 'descrow.outcome': 'paid' }) });
  expect(named('payout settle')!.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
  expect(named('chain recordPayout')).toMatchObject({ attributes: expect.objectContaining({ 'chain.tx_hash': rows[0]!.tx_hash, 'descrow.request_id': send.attributes['descrow.request_id'] }) });
}, 60_000);
