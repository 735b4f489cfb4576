import { ManualClock } from '../src/time';
import { CONSUMER_KEY, CONSUMER_SECRET, ERROR_ENVELOPE, Harness } from './helpers';

describe('OAuth and bearer tokens', () => {
  const clock = new ManualClock(Date.UTC(2025, 0, 1));
  const h = new Harness({}, clock);
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('issues a token for the configured key and secret, expires_in as the string "3599"', async () => {
    const res = await h.oauth();
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ access_token: expect.stringMatching(/^[A-Za-z0-9]{28}$/), expires_in: '3599' });
  });

  it('refuses wrong credentials, a missing Basic header and a bad grant type', async () => {
    const wrong = await h.oauth(CONSUMER_KEY, 'nope');
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toEqual({ ...ERROR_ENVELOPE, errorCode: '400.008.01', errorMessage: 'Invalid Authentication passed' });

    const none = await fetch(`${h.url}/oauth/v1/generate?grant_type=client_credentials`);
    expect((await none.json()).errorCode).toBe('400.008.01');

    const grant = await h.oauth(CONSUMER_KEY, CONSUMER_SECRET, 'client_credentials%20');
    expect(grant.status).toBe(400);
    expect((await grant.json()).errorCode).toBe('400.008.02');
  });

  it('enforces the 3599 s lifetime on every API', async () => {
    const token = await h.newToken();
    clock.advance(3598_000);
    const stillValid = await h.post('/mpesa/stkpushquery/v1/query', {}, token);
    expect(stillValid.body.errorCode).toBe('400.002.02'); // past the gateway: now the (empty) body is what's wrong
    clock.advance(1_000);
    for (const path of ['/mpesa/stkpush/v1/processrequest', '/mpesa/stkpushquery/v1/query', '/mpesa/b2c/v3/paymentrequest', '/mpesa/transactionstatus/v1/query']) {
      const expired = await h.post(path, {}, token);
      expect(expired.status).toBe(404);
      expect(expired.body).toEqual({ ...ERROR_ENVELOPE, errorCode: '404.001.03', errorMessage: 'Invalid Access Token' });
    }
  });

  it('refuses unknown tokens and requests without a bearer header', async () => {
    expect((await h.post('/mpesa/stkpush/v1/processrequest', {}, 'c9SQxWWhmdVRlyh0zh8gZDTkubVF')).body.errorCode).toBe('404.001.03');
    const none = await h.post('/mpesa/stkpush/v1/processrequest', {}, null);
    expect(none.status).toBe(404);
    expect(none.body.errorCode).toBe('404.001.04');
  });

  it('single-token mode: a new token revokes the previous one (docs FAQ)', async () => {
    await h.control('PATCH', '/settings', { singleToken: true });
    const first = await h.newToken();
    const second = await h.newToken();
    expect((await h.post('/mpesa/stkpushquery/v1/query', {}, first)).body.errorCode).toBe('404.001.03');
    expect((await h.post('/mpesa/stkpushquery/v1/query', {}, second)).body.errorCode).toBe('400.002.02');
    await h.control('PATCH', '/settings', { singleToken: false });
  });

  it('the control API can expire every token at once', async () => {
    const token = await h.newToken();
    expect((await h.control('POST', '/tokens/expire')).body.expired).toBeGreaterThan(0);
    expect((await h.post('/mpesa/stkpushquery/v1/query', {}, token)).body.errorCode).toBe('404.001.03');
  });
});
