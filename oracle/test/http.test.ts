/** The oracle's HTTP edges: health of real dependencies, the IP allow-list, trusted proxies. */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { freePortPair } from '@descrow/common';
import { OracleHarness, type OracleUnderTest } from './harness';

const h = new OracleHarness();
let oracle: OracleUnderTest;
const SAFARICOM_IP = '196.201.214.200';
beforeAll(async () => {
  await h.start('http', {}, { ORACLE_CALLBACK_ALLOWED_IPS: `${SAFARICOM_IP},196.201.214.206`, ORACLE_TRUSTED_PROXIES: '127.0.0.1', ORACLE_RUN_JOBS: 'false' });
  oracle = await h.oracleInProcess();
}, 60_000);
afterAll(async () => {
  await oracle?.stop();
  await h.stop();
});

const callback = { Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'ws_CO_http_test', ResultCode: 1032, ResultDesc: 'Request cancelled by user' } } };
const ref = randomUUID();
const post = (headers: Record<string, string>) =>
  fetch(`${oracle.url}${h.hook('stk', ref)}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(callback) });

test('/health checks Postgres, Redis, the chain and Daraja, and says which one is down', async () => {
  const ok = await fetch(`${oracle.url}/health`);
  expect(ok.status).toBe(200);
  const body = await ok.json();
  expect(body.status).toBe('ok');
  expect(Object.keys(body.checks).sort()).toEqual(['chain', 'daraja', 'postgres', 'redis']);
  h.anvil.process.kill('SIGSTOP');
  try {
    const down = await fetch(`${oracle.url}/health`);
    expect(down.status).toBe(503);
    const b = await down.json();
    expect(b.checks.chain.ok).toBe(false);
    expect(b.checks.postgres.ok).toBe(true);
    // The public answer has no internal error text; the internal listener has it.
    expect(b.checks.chain.error).toBeUndefined();
    const detail = await (await fetch(`${h.internalUrl(oracle.url)}/health`)).json();
    expect(detail.checks.chain).toMatchObject({ ok: false, error: expect.any(String) });
  } finally {
    h.anvil.process.kill('SIGCONT');
  }
});

test('with an allow-list, a callback from elsewhere is refused and not stored', async () => {
  const before = (await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n;
  const res = await post({ 'x-forwarded-for': '8.8.8.8' });
  expect(res.status).toBe(403);
  expect((await h.pool.query(`SELECT count(*)::int AS n FROM oracle.callbacks`)).rows[0].n).toBe(before);
});

test('through our own proxy, the forwarded Safaricom address is believed and the callback stored with it', async () => {
  const res = await post({ 'x-forwarded-for': SAFARICOM_IP });
  expect(res.status).toBe(200);
  const row = (await h.pool.query(`SELECT source_ip FROM oracle.callbacks WHERE correlation_id='ws_CO_http_test' ORDER BY id DESC LIMIT 1`)).rows[0];
  expect(row.source_ip).toBe(SAFARICOM_IP);
});

test('X-Forwarded-For from a peer that is not our proxy is ignored', async () => {
  const port = await freePortPair();
  const strict = await h.oracleInProcess({ ORACLE_PORT: String(port), ORACLE_TRUSTED_PROXIES: '' });
  try {
    const res = await fetch(`${strict.url}${h.hook('stk', ref)}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': SAFARICOM_IP }, body: JSON.stringify(callback) });
    expect(res.status).toBe(403);
  } finally {
    await strict.stop();
  }
});

test('unknown routes and methods get a JSON 404, never a stack trace', async () => {
  const res = await fetch(`${oracle.url}/nope`);
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
});

test('/internal/* answers only on the internal listener, never on the public port', async () => {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${h.env.ORACLE_SERVICE_TOKEN ?? 'dev-service-token-change-me'}` };
  const onPublic = await fetch(`${oracle.url}/internal/reconciliation/latest`, { headers });
  expect(onPublic.status).toBe(404);
  expect(await onPublic.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  const onInternal = await fetch(`${h.internalUrl(oracle.url)}/internal/reconciliation/latest`, { headers });
  expect(onInternal.status).toBe(200);
  // Daraja's hooks stay on the public listener.
  expect((await post({ 'x-forwarded-for': SAFARICOM_IP })).status).toBe(200);
});

/** One raw request: the path goes on the wire exactly as written (fetch would normalise `..`, `.` and case of escapes). */
const raw = (base: string, path: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(base);
    const req = request({ host: u.hostname, port: u.port, method: 'GET', path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });

// Issue 24, point 6: the public port decoded `/%6detrics` into /metrics (the ledger's figures
// for anyone) and `/%69nternal/...` into the internal API, because a check compared the raw
// URL while the router decoded it. Now those routes exist only on the internal server.
test('no spelling of /metrics or /internal/* reaches a private route through the public port', async () => {
  const token = { authorization: `Bearer ${h.env.ORACLE_SERVICE_TOKEN ?? 'dev-service-token-change-me'}` };
  const metricsSpellings = [
    '/%6detrics', '/%6Detrics', '/%6d%65%74%72%69%63%73', '/%6D%65%74%72%69%63%73', '/metric%73', '/metrics%3Fx=1',
    '//metrics', '///metrics', '/METRICS', '/Metrics', '/metrics.', '/metrics/', '/metrics/.', '/metrics%2F', '/metrics%20',
    '/./metrics', '/x/../metrics', '/%2e/metrics', '/x/%2e%2e/metrics', '/%2E%2E/metrics', '/hooks/../metrics', '/metrics;x', '/metrics#x', '/metrics?format=openmetrics',
  ];
  const internalSpellings = [
    '/%69nternal/reconciliation/latest', '/%49nternal/reconciliation/latest', '/%69%6e%74%65%72%6e%61%6c/reconciliation/latest',
    '/internal%2freconciliation%2flatest', '/internal%2Freconciliation%2Flatest', '/%2finternal/reconciliation/latest',
    '//internal/reconciliation/latest', '/INTERNAL/reconciliation/latest', '/Internal/reconciliation/latest', '/internal./reconciliation/latest',
    '/internal/reconciliation/latest/', '/internal/reconciliation/latest.', '/internal/reconciliation/latest%2e', '/./internal/reconciliation/latest',
    '/x/../internal/reconciliation/latest', '/x/%2e%2e/internal/reconciliation/latest', '/hooks/../internal/reconciliation/latest', '/internal/reconciliation/%6catest',
    '/internal/reconciliation/latest', '/internal/refund-cases', '/%69nternal/refund-cases', '/%69nternal/payouts', '/internal/reconciliation/latest?x=1',
  ];
  const reached: string[] = [];
  for (const path of [...metricsSpellings, ...internalSpellings]) {
    const res = await raw(oracle.url, path, token);
    // Anything but a plain 404 (or 400 for a path the parser refuses) means a route answered: 200 with
    // figures, or 401 from the internal API's token check.
    if (![400, 404].includes(res.status) || res.body.includes('descrow_oracle') || res.body.includes('UNAUTHENTICATED')) reached.push(`${path} → ${res.status}`);
  }
  expect(reached).toEqual([]);
  // The same routes answer on the internal listener, so the list above names real ones.
  expect((await raw(h.internalUrl(oracle.url), '/metrics')).body).toContain('descrow_oracle_');
  expect((await raw(h.internalUrl(oracle.url), '/%6detrics')).body).toContain('descrow_oracle_');
  expect((await raw(h.internalUrl(oracle.url), '/internal/reconciliation/latest', token)).status).toBe(200);
  expect((await raw(h.internalUrl(oracle.url), '/internal/reconciliation/latest')).status).toBe(401);
});
