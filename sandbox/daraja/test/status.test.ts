import { ERROR_ENVELOPE, Harness, item } from './helpers';

describe('Transaction Status', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  const body = (overrides: Record<string, unknown>) => ({
    Initiator: 'testapi',
    SecurityCredential: h.credential(),
    CommandID: 'TransactionStatusQuery',
    PartyA: '600992',
    IdentifierType: '4',
    ResultURL: `${h.receiver.url}/hooks/status/t0k3n`,
    QueueTimeOutURL: `${h.receiver.url}/hooks/status-to/t0k3n`,
    Remarks: 'recon',
    Occasion: 'recon',
    ...overrides,
  });

  async function status(overrides: Record<string, unknown>) {
    const before = h.receiver.on('/hooks/status/').length;
    const ack = await h.post('/mpesa/transactionstatus/v1/query', body(overrides));
    expect(ack.status).toBe(200);
    expect(ack.body).toEqual({
      OriginatorConversationID: expect.any(String),
      ConversationID: expect.stringMatching(/^AG_/),
      ResponseCode: '0',
      ResponseDescription: 'Accept the service request successfully.',
    });
    const got = await h.receiver.waitFor('/hooks/status/', before + 1);
    const result = got[before]!.body.Result;
    expect(result.OriginatorConversationID).toBe(ack.body.OriginatorConversationID);
    return result;
  }

  const params = (result: { ResultParameters: { ResultParameter: { Key: string; Value?: unknown }[] } }) => result.ResultParameters.ResultParameter;

  it('finds a B2C payout by receipt and by OriginalConversationID: Completed, amount, receipt', async () => {
    const ack = await h.b2c({ Amount: 321 });
    await h.resolveB2c(ack.body.OriginatorConversationID);
    const [b2cResult] = await h.receiver.waitFor('/hooks/b2c/result');
    const receipt = b2cResult!.body.Result.TransactionID as string;

    for (const key of [{ TransactionID: receipt }, { OriginalConversationID: ack.body.OriginatorConversationID }]) {
      const result = await status(key);
      expect(result.ResultCode).toBe(0);
      const p = params(result);
      expect(item(p, 'TransactionStatus')!.Value).toBe('Completed');
      expect(item(p, 'Amount')!.Value).toBe(321);
      expect(item(p, 'ReceiptNo')!.Value).toBe(receipt);
      expect(item(p, 'OriginatorConversationID')!.Value).toBe(ack.body.OriginatorConversationID);
      expect(item(p, 'ConversationID')!.Value).toBe(ack.body.ConversationID);
      expect(String(item(p, 'FinalisedTime')!.Value)).toMatch(/^\d{14}$/);
    }
  });

  it('reports a payout whose result never arrived (queue timeout) as Expired, a pending one as Initiated', async () => {
    const expired = await h.b2c();
    await h.resolveB2c(expired.body.OriginatorConversationID, { delivery: { mode: 'queue_timeout' } });
    expect(item(params(await status({ OriginalConversationID: expired.body.OriginatorConversationID })), 'TransactionStatus')!.Value).toBe('Expired');
    const pending = await h.b2c();
    expect(item(params(await status({ OriginalConversationID: pending.body.OriginatorConversationID })), 'TransactionStatus')!.Value).toBe('Initiated');
  });

  it('finds an STK payment by its MpesaReceiptNumber', async () => {
    const push = await h.stkPush({ Amount: 42 });
    await h.resolveStk(push.body.CheckoutRequestID);
    const [cb] = await h.receiver.waitFor('/hooks/stk');
    const receipt = item(cb!.body.Body.stkCallback.CallbackMetadata.Item, 'MpesaReceiptNumber')!.Value;
    const p = params(await status({ TransactionID: receipt }));
    expect(item(p, 'Amount')!.Value).toBe(42);
    expect(item(p, 'ReasonType')!.Value).toBe('Pay Bill Online');
  });

  it('unknown transaction → a failure result without parameters; a bad credential → 2001', async () => {
    const unknown = await status({ TransactionID: 'TJL0000XYZ' });
    expect(unknown.ResultCode).toBe('R000002');
    expect(unknown.ResultParameters).toBeUndefined();
    const bad = await status({ TransactionID: 'TJL0000XYZ', SecurityCredential: h.credential('wrong') });
    expect(bad).toMatchObject({ ResultCode: 2001, ResultDesc: 'The initiator information is invalid.' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no TransactionID nor OriginalConversationID', {}, 'TransactionID'],
    ['CommandID', { TransactionID: 'X', CommandID: 'TransactionStatus' }, 'CommandID'],
    ['IdentifierType', { TransactionID: 'X', IdentifierType: '9' }, 'IdentifierType'],
    ['ResultURL', { TransactionID: 'X', ResultURL: 'https://x.example/exec/r' }, 'ResultURL'],
  ])('validation: %s → Invalid %s', async (_n, overrides, field) => {
    const res = await h.post('/mpesa/transactionstatus/v1/query', body(overrides));
    expect(res).toEqual({ status: 400, body: { ...ERROR_ENVELOPE, errorCode: '400.002.02', errorMessage: `Bad Request - Invalid ${field}` } });
  });
});
