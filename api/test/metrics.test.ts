/**
 * The API's /metrics and traces, on the real test world (index, chain, oracle, simulator):
 * /metrics is served on its own listener and not on the public port; requests are counted
 * by operation name and errors by code; the index's height, the chain's and the lag are
 * read at scrape time. One STK push yields spans in the API and in the oracle (over real
 * HTTP, carried by traceparent) and its Daraja call, all in one trace, with the request id.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keccak256, toHex } from 'viem';
import { parse } from 'yaml';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { context, DEV_ROLES, freePort, parseEnv, startTracing, trace, type Tracing } from '@descrow/common';
import { scrape } from '@descrow/common/src/testing/metrics';
import { orderIdFor } from '@descrow/contracts';
import { apiEnvShape } from '../src/config';
import { listen, type Listening } from '../src/serve';
import { BUYER, SELLER, SELLER_PHONE, startFixture, type Fixture } from './support/fixture';
import { eventually } from './support/client';

const spans = new InMemorySpanExporter();
let tracing: Tracing;
let fx: Fixture;
let http: Listening;
let publicUrl: string;
let metricsUrl: string;

beforeAll(async () => {
  tracing = startTracing('descrow-test', { processors: [new SimpleSpanProcessor(spans)] });
  fx = await startFixture('metrics', 3);
  const [port, metricsPort] = [await freePort(), await freePort()];
  http = await listen(fx.api, parseEnv(apiEnvShape, { API_PORT: String(port), API_HOST: '127.0.0.1', API_METRICS_PORT: String(metricsPort) }));
  publicUrl = `http://127.0.0.1:${port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await fx.catchUp();
}, 120_000);
afterAll(async () => {
  await http?.close();
  await fx?.stop();
  await tracing?.shutdown();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${publicUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('/metrics is on the metrics listener (loopback by default), never on the public port', async () => {
  expect(parseEnv(apiEnvShape, {}).API_METRICS_HOST).toBe('127.0.0.1');
  const pub = await fetch(`${publicUrl}/metrics`);
  expect(pub.status).toBe(404);
  expect(await pub.text()).not.toContain('descrow_');
  const s = await scrape(metricsUrl);
  expect(s.value('descrow_api_process_resident_memory_bytes')).toBeGreaterThan(0);
  expect((await fetch(metricsUrl.replace('/metrics', '/graphql'))).status).toBe(404);
});

test('requests by operation name, errors by code', async () => {
  const ok = await post({ query: 'query MetricsProbe { _health: __typename }' });
  expect(ok.status).toBe(200);
  const bad = await post({ query: 'query Broken { noSuchField }' });
  expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  const s = await scrape(metricsUrl);
  expect(s.value('descrow_api_graphql_request_duration_seconds_count', { operation: 'MetricsProbe', status: '200' })).toBe(1);
  expect(s.value('descrow_api_graphql_request_duration_seconds_count', { operation: 'Broken', status: String(bad.status) })).toBe(1);
  expect(s.value('descrow_api_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBeGreaterThanOrEqual(1);
});

test('index height, chain height and lag are read at scrape time', async () => {
  const height = await fx.catchUp();
  const s = await eventually(() => scrape(metricsUrl), (x) => x.value('descrow_index_lag_blocks') === 0, 15_000);
  expect(s.value('descrow_index_height')).toBeGreaterThanOrEqual(height);
  expect(s.value('descrow_chain_height')).toBe(s.value('descrow_index_height'));
  expect(s.value('descrow_chain_up')).toBe(1);
});

test('one M-Pesa payment: the API, oracle, Daraja and chain-transaction spans share one trace id and carry the request id', async () => {
  spans.reset();
  const salt = keccak256(toHex(`api-metrics-trace-${Date.now()}`));
  const orderId = orderIdFor(DEV_ROLES.oracle.address as `0x${string}`, salt);
  const requestId = `trace-test-${Date.now()}`;
  // What payWithMpesa does, inside a GraphQL request's span.
  const parent = trace.getTracer('descrow-api').startSpan('graphql payWithMpesa');
  const result = await fx.api.deps.oracle.requestStk(
    { orderId, salt, buyer: BUYER.address, seller: SELLER.address, amountKes: 700, phone: '254708374149', sellerPhone: SELLER_PHONE },
    requestId, trace.setSpan(context.active(), parent),
  );
  parent.end();
  expect(result.ok).toBe(true);
  const finished = await eventually(async () => spans.getFinishedSpans(), (all) => all.some((x) => x.name.startsWith('daraja stk push')) && all.some((x) => x.name === 'POST /internal/stk'), 10_000);
  const traceId = parent.spanContext().traceId;
  const client = finished.find((x) => x.name === 'oracle POST /internal/stk')!;
  const server = finished.find((x) => x.name === 'POST /internal/stk')!;
  const daraja = finished.find((x) => x.name === 'daraja stk push')!;
  for (const s of [client, server, daraja]) expect([s.name, s.spanContext().traceId]).toEqual([s.name, traceId]);
  expect(client.instrumentationScope.name).toBe('descrow-api');
  expect(server.instrumentationScope.name).toBe('descrow-oracle');
  // The oracle's server span is the child of the API's client span: the traceparent crossed HTTP.
  expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
  expect(daraja.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  expect(client.attributes['descrow.request_id']).toBe(requestId);
  expect(server.attributes['descrow.request_id']).toBe(requestId);
  // The request keeps its trace for the chain record written later.
  const row = (await fx.pool.query(`SELECT trace_context FROM oracle.payment_requests WHERE order_id=$1`, [orderId])).rows[0];
  expect(row.trace_context).toMatchObject({ requestId, traceparent: expect.stringContaining(traceId) });
  // The simulator pays, the callback is verified, and the outbox writes the payment on chain:
  // that transaction's span joins the same trace, with the same request id, and names the tx.
  const withChain = await eventually(async () => spans.getFinishedSpans(), (all) => all.some((x) => x.name.startsWith('chain ') && x.spanContext().traceId === traceId), 20_000);
  const chainSpan = withChain.find((x) => x.name.startsWith('chain ') && x.spanContext().traceId === traceId)!;
  expect(chainSpan.name).toBe('chain createPaidOffchainOrder');
  expect(chainSpan.attributes['descrow.request_id']).toBe(requestId);
  expect(chainSpan.attributes['descrow.order_id']).toBe(orderId);
  const { rows: sent } = await fx.pool.query(`SELECT tx_hash FROM oracle.outbox WHERE order_id=$1 AND kind='record_payment'`, [orderId]);
  expect(chainSpan.attributes['chain.tx_hash']).toBe(sent[0]!.tx_hash);
  // The simulator's callback carries no trace; it is decided in the payment's (with the STK Query it asks).
  const callback = withChain.find((x) => x.name === 'stk callback' && x.spanContext().traceId === traceId);
  expect(callback?.attributes).toMatchObject({ 'descrow.request_id': requestId, 'descrow.outcome': 'paid' });
  expect(withChain.some((x) => x.name === 'daraja stk query' && x.parentSpanContext?.spanId === callback!.spanContext().spanId)).toBe(true);
}, 40_000);

test('every metric the alert rules and the dashboard use is one the API or the oracle exports', async () => {
  const root = join(__dirname, '../..');
  const rules = parse(readFileSync(join(root, 'observability/alerts.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  const dashboard = JSON.parse(readFileSync(join(root, 'observability/grafana/dashboards/descrow.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = [...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\bdescrow_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''))));
  const [api, oracle] = await Promise.all([scrape(metricsUrl), scrape(`${fx.config.ORACLE_URL}/metrics`)]);
  const exported = new Set([...api.names, ...oracle.names]);
  expect(used.size).toBeGreaterThanOrEqual(15);
  expect([...used].filter((n) => !exported.has(n))).toEqual([]);
});
