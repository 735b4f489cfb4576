import { generateKeyPairSync, publicEncrypt, constants } from 'node:crypto';
import { ERROR_ENVELOPE, Harness, INITIATOR_PASSWORD } from './helpers';

describe('B2C v3 payment request', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  it('acknowledges with the caller\'s OriginatorConversationID, an AG_ ConversationID and ResponseCode "0"', async () => {
    const res = await h.b2c({ OriginatorConversationID: 'payout-7f3c2a9e-0001' });
    expect(res).toEqual({
      status: 200,
      body: {
        ConversationID: expect.stringMatching(/^AG_20251021_[0-9a-f]{20}$/),
        OriginatorConversationID: 'payout-7f3c2a9e-0001',
        ResponseCode: '0',
        ResponseDescription: 'Accept the service request successfully.',
      },
    });
  });

  it('refuses a reused OriginatorConversationID with 500.002.1001, whatever became of the first', async () => {
    await h.b2c({ OriginatorConversationID: 'payout-dup-1' });
    const again = await h.b2c({ OriginatorConversationID: 'payout-dup-1', Amount: 999 });
    expect(again).toEqual({ status: 500, body: { ...ERROR_ENVELOPE, errorCode: '500.002.1001', errorMessage: 'Duplicate OriginatorConversationID.' } });
    await h.resolveB2c('payout-dup-1');
    expect((await h.b2c({ OriginatorConversationID: 'payout-dup-1' })).status).toBe(500);
    expect((await h.control('GET', '/b2c')).body).toHaveLength(1);
  });

  it('the v1 path generates an OriginatorConversationID', async () => {
    const res = await h.post('/mpesa/b2c/v1/paymentrequest', { ...h.b2cBody(), OriginatorConversationID: undefined });
    expect(res.status).toBe(200);
    expect(res.body.OriginatorConversationID).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+$/);
  });

  describe('SecurityCredential, like Daraja: a credential that is not the initiator password under our certificate → result 2001', () => {
    async function resultFor(overrides: Record<string, unknown>) {
      const ack = await h.b2c(overrides);
      expect(ack.status).toBe(200); // accepted: Daraja only finds out asynchronously
      await h.resolveB2c(ack.body.OriginatorConversationID, { outcome: 'success' });
      const [res] = await h.receiver.waitFor('/hooks/b2c/result');
      return res!.body.Result;
    }

    it('the right password encrypted with /__sim/certificate (PKCS#1 v1.5) pays', async () => {
      const cert = (await h.control('GET', '/certificate')).body as string;
      expect(cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
      const credential = publicEncrypt({ key: cert, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(INITIATOR_PASSWORD)).toString('base64');
      expect((await resultFor({ SecurityCredential: credential })).ResultCode).toBe(0);
    });

    it('a wrong password', async () => {
      expect((await resultFor({ SecurityCredential: h.credential('Safaricom123!!') })).ResultCode).toBe(2001);
    });

    it('the right password under another certificate (e.g. the production one)', async () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const other = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(INITIATOR_PASSWORD)).toString('base64');
      expect((await resultFor({ SecurityCredential: other })).ResultCode).toBe(2001);
    });

    it('OAEP instead of PKCS#1 v1.5 padding', async () => {
      const cert = h.sim.state.credentials.certificatePem;
      const oaep = publicEncrypt({ key: cert, padding: constants.RSA_PKCS1_OAEP_PADDING }, Buffer.from(INITIATOR_PASSWORD)).toString('base64');
      expect((await resultFor({ SecurityCredential: oaep })).ResultCode).toBe(2001);
    });

    it('plain text or garbage', async () => {
      expect((await resultFor({ SecurityCredential: INITIATOR_PASSWORD })).ResultCode).toBe(2001);
    });

    it('an unknown initiator name', async () => {
      const result = await resultFor({ InitiatorName: 'someoneelse' });
      expect(result).toMatchObject({ ResultCode: 2001, ResultDesc: 'The initiator information is invalid.' });
      expect(result.ResultParameters).toBeUndefined();
    });
  });

  describe('validation', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['InitiatorName missing', { InitiatorName: undefined }, 'InitiatorName'],
      ['SecurityCredential empty', { SecurityCredential: '' }, 'SecurityCredential'],
      ['CommandID', { CommandID: 'BusinessPayout' }, 'CommandID'],
      ['decimal Amount', { Amount: 10.5 }, 'Amount'],
      ['PartyA', { PartyA: 'ABC' }, 'PartyA'],
      ['PartyB', { PartyB: '0705912645' }, 'PartyB'],
      ['Remarks too short', { Remarks: 'x' }, 'Remarks'],
      ['Remarks too long', { Remarks: 'x'.repeat(101) }, 'Remarks'],
      ['QueueTimeOutURL banned word', { QueueTimeOutURL: 'https://pay.example.com/mpesa/timeout' }, 'QueueTimeOutURL'],
      ['ResultURL banned word', { ResultURL: 'https://pay.example.com/b2c/Query' }, 'ResultURL'],
      ['Occassion too long', { Occassion: 'x'.repeat(101) }, 'Occassion'],
    ])('%s → 400.002.02 Invalid field', async (_name, overrides, field) => {
      const res = await h.b2c(overrides);
      expect(res).toEqual({ status: 400, body: { ...ERROR_ENVELOPE, errorCode: '400.002.02', errorMessage: `Bad Request - Invalid ${field}` } });
    });

    it('an OriginatorConversationID is required on v3', async () => {
      expect((await h.b2c({ OriginatorConversationID: undefined })).body.errorMessage).toBe('Bad Request - Invalid OriginatorConversationID');
    });

    it('a wrong Content-Type gives the misleading "Invalid InitiatorName"', async () => {
      const res = await fetch(`${h.url}/mpesa/b2c/v3/paymentrequest`, { method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'text/plain' }, body: 'x' });
      expect(await res.json()).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid InitiatorName' });
    });
  });
});
