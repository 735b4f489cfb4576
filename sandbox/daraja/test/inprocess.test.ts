import { createLogger } from '@descrow/common';
import { createDarajaSimulator, encryptSecurityCredential, ManualClock } from '@descrow/sandbox/daraja';

/**
 * How another part's tests use the simulator: import by package path, listen on port 0.
 * (Not `app.inject`: under this jest setup on Node 20, light-my-request's ESM-only
 * `cookie` dependency cannot be required, so inject throws. Real HTTP works.)
 */
describe('in-process use', () => {
  it('runs on port 0 with an injected clock and closes cleanly', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const sim = createDarajaSimulator(
      { MPESA_CONSUMER_KEY: 'k', MPESA_CONSUMER_SECRET: 's', DARAJA_SIM_TOKEN_TTL_SECONDS: 60, DARAJA_SIM_B2C_RESOLVE_MS: 0 },
      { logger: createLogger('t', 'silent'), clock },
    );
    const url = await sim.listen(0);
    try {
      const oauth = await fetch(`${url}/oauth/v1/generate?grant_type=client_credentials`, { headers: { authorization: `Basic ${Buffer.from('k:s').toString('base64')}` } });
      const token = ((await oauth.json()) as { access_token: string }).access_token;
      const cert = await (await fetch(`${url}/__sim/certificate`)).text();
      const post = (path: string, body: unknown) =>
        fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const ack = await post('/mpesa/b2c/v3/paymentrequest', {
        OriginatorConversationID: 'p-1', InitiatorName: 'testapi', SecurityCredential: encryptSecurityCredential('Safaricom999!*!', cert),
        CommandID: 'BusinessPayment', Amount: 10, PartyA: '600992', PartyB: '254705912645', Remarks: 'payout',
        QueueTimeOutURL: 'http://127.0.0.1:9/hooks/b2c/timeout/x', ResultURL: 'http://127.0.0.1:9/hooks/b2c/result/x',
      });
      expect(await ack.json()).toMatchObject({ OriginatorConversationID: 'p-1', ResponseCode: '0' });
      expect(sim.state.b2c.get('p-1')?.credentialValid).toBe(true);
      clock.advance(60_000);
      expect(((await (await post('/mpesa/stkpushquery/v1/query', {})).json()) as { errorCode: string }).errorCode).toBe('404.001.03');
    } finally {
      await sim.close();
    }
  });
});
