/** The Daraja client against the simulator over HTTP, with the token shared through real Redis. */
import Redis from 'ioredis';
import { createLogger } from '@descrow/common';
import { createDarajaSimulator, type DarajaSimulator } from '../../sandbox/daraja/src';
import { DarajaClient, type DarajaSettings } from '../src/daraja/client';
import { securityCredential } from '../src/daraja/credential';
import { DarajaError } from '../src/daraja/errors';
import { createRedis } from '../src/main';

let sim: DarajaSimulator;
let settings: DarajaSettings;
const redisClients: Redis[] = [];
const log = createLogger('test', 'silent');

beforeAll(async () => {
  sim = createDarajaSimulator({ LOG_LEVEL: 'silent', DARAJA_SIM_STK_RESOLVE_MS: 0 } as never);
  const baseUrl = await sim.listen(0);
  const cert = await (await fetch(`${baseUrl}/__sim/certificate`)).text();
  settings = {
    baseUrl, consumerKey: 'descrow-dev-consumer-key', consumerSecret: 'descrow-dev-consumer-secret', shortcode: '174379',
    passkey: 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919', b2cShortcode: '600992', initiatorName: 'testapi',
    securityCredential: securityCredential('Safaricom999!*!', cert), timeoutMs: 5_000,
  };
});
afterAll(async () => {
  for (const r of redisClients) r.disconnect();
  await sim?.close();
});

/** Two "instances": two clients with their own Redis connections to the same server. */
function instance(overrides: Partial<DarajaSettings> = {}) {
  const redis = createRedis(process.env.REDIS_URL);
  redisClients.push(redis);
  return new DarajaClient({ ...settings, ...overrides }, redis, log);
}
const tokensIssued = async () => (await (await fetch(`${settings.baseUrl}/__sim/state`)).json()).counts.tokens as number;
const stk = (c: DarajaClient, phone: string) => c.stkPush({ amount: 10, phone, callbackUrl: 'http://127.0.0.1:9/hooks/stk/x', accountReference: 'T1', description: 'test' });

test('two instances asking at once share one OAuth token: one refresh, one token', async () => {
  const a = instance();
  const b = instance();
  await a.tokens.forget(); // start from an empty shared cache
  const before = await tokensIssued();
  const tokens = await Promise.all([a.tokens.get(), b.tokens.get(), a.tokens.get(), b.tokens.get(), a.tokens.get()]);
  expect(new Set(tokens).size).toBe(1);
  expect((await tokensIssued()) - before).toBe(1);
});

test('STK Push with a valid password is accepted; the ack fields are typed and normalised', async () => {
  const c = instance();
  const ack = await stk(c, '254711000801');
  expect(ack.ResponseCode).toBe('0');
  expect(ack.CheckoutRequestID).toMatch(/^ws_CO_\d{14}\d{3}\d+$/);
  const q = c.stkQuery(ack.CheckoutRequestID);
  // Still pending: Daraja's "being processed" is indeterminate, never a failure.
  await expect(q).rejects.toMatchObject({ kind: 'indeterminate', errorCode: '500.001.1001' });
});

test('an expired or revoked token is refreshed once and the call succeeds', async () => {
  const c = instance();
  await c.tokens.get();
  await fetch(`${settings.baseUrl}/__sim/tokens/expire`, { method: 'POST' });
  const ack = await stk(c, '254711000802');
  expect(ack.ResponseCode).toBe('0');
});

test('wrong consumer credentials are a final error naming Daraja\'s code', async () => {
  const c = instance({ consumerSecret: 'wrong', consumerKey: `other-${Date.now()}` });
  await expect(c.fetchToken()).rejects.toMatchObject({ kind: 'final', errorCode: '400.008.01' });
});

test('an invalid phone is final (400.002.02); spike arrest is retryable', async () => {
  const c = instance();
  await expect(stk(c, '0711000803')).rejects.toMatchObject({ kind: 'final', errorCode: '400.002.02' });
  await fetch(`${settings.baseUrl}/__sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorCode: '500.003.02', count: 1 }) });
  const err = await stk(c, '254711000804').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DarajaError);
  expect(err).toMatchObject({ kind: 'retryable', errorCode: '500.003.02' });
});

test('a B2C with our SecurityCredential is accepted; a reused OriginatorConversationID is refused as final', async () => {
  const c = instance();
  const input = { originatorConversationId: `T-${Date.now()}`, amount: 50, phone: '254711000805', remarks: 'test payout', resultUrl: 'http://127.0.0.1:9/hooks/b2c/result/x', timeoutUrl: 'http://127.0.0.1:9/hooks/b2c/timeout/x' };
  const ack = await c.b2c(input);
  expect(ack).toMatchObject({ ResponseCode: '0', OriginatorConversationID: input.originatorConversationId, ConversationID: expect.stringMatching(/^AG_\d{8}_/) });
  await expect(c.b2c(input)).rejects.toMatchObject({ kind: 'final', errorCode: '500.002.1001' });
});

test('Daraja down (connection refused) is retryable, never mistaken for an answer', async () => {
  const c = instance({ baseUrl: 'http://127.0.0.1:9', consumerKey: `down-${Date.now()}` });
  await expect(c.fetchToken()).rejects.toMatchObject({ kind: 'retryable' });
});
