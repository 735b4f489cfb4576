import { Harness, sleep } from './helpers';

/** Callback delivery modes, STK Query vs callback, and injected gateway faults. */
describe('callback delivery modes', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  const push = async (overrides: Record<string, unknown> = {}) => (await h.stkPush(overrides)).body.CheckoutRequestID as string;

  it('normal: exactly one callback, answered before the control call returns', async () => {
    const id = await push();
    await h.resolveStk(id);
    expect(h.receiver.on('/hooks/stk')).toHaveLength(1);
    await sleep(100);
    expect(h.receiver.on('/hooks/stk')).toHaveLength(1);
  });

  it('delayed: STK Query knows the result before the callback arrives delayMs later', async () => {
    await h.control('PUT', '/delivery', { mode: 'delayed', delayMs: 150 });
    const id = await push();
    const resolvedAt = Date.now();
    await h.resolveStk(id);
    expect((await h.stkQuery(id)).body.ResultCode).toBe('0');
    expect(h.receiver.on('/hooks/stk')).toHaveLength(0);
    const [cb] = await h.receiver.waitFor('/hooks/stk');
    expect(cb!.at - resolvedAt).toBeGreaterThanOrEqual(140);
    expect(cb!.body.Body.stkCallback.CheckoutRequestID).toBe(id);
  });

  it('never: no callback at all, the query still answers, the record shows what was withheld', async () => {
    const id = await push();
    await h.resolveStk(id, { delivery: { mode: 'never' }, outcome: 'success' });
    await sleep(150);
    expect(h.receiver.on('/hooks/stk')).toHaveLength(0);
    expect((await h.stkQuery(id)).body.ResultCode).toBe('0');
    const records = (await h.control('GET', `/callbacks?ref=${id}`)).body;
    expect(records).toEqual([expect.objectContaining({ kind: 'stk', suppressed: true, mode: 'never' })]);
    expect((await h.control('GET', '/ledger')).body.totals.paybill).toBe(100); // paid, just never told
  });

  it('duplicated: the same callback, byte for byte, `copies` times', async () => {
    const id = await push();
    await h.resolveStk(id, { delivery: { mode: 'duplicated', copies: 3 } });
    const got = await h.receiver.waitFor('/hooks/stk', 3);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.raw)).size).toBe(1);
    expect((await h.control('GET', '/ledger')).body.totals.paybill).toBe(100); // paid once
  });

  it('before_response: the callback has been delivered before the STK push answer comes back', async () => {
    await h.control('POST', '/rules', { phone: '254711000111', outcome: 'cancelled', delivery: { mode: 'before_response' } });
    const res = await h.stkPush({ PhoneNumber: '254711000111', PartyA: '254711000111' });
    expect(res.status).toBe(200);
    const got = h.receiver.on('/hooks/stk'); // no waiting: it is already there
    expect(got).toHaveLength(1);
    expect(got[0]!.body.Body.stkCallback).toMatchObject({ CheckoutRequestID: res.body.CheckoutRequestID, ResultCode: 1032 });
  });

  it('before_response for B2C: the result beats the acknowledgement', async () => {
    await h.control('PUT', '/delivery', { mode: 'before_response' });
    const ack = await h.b2c();
    expect(ack.status).toBe(200);
    expect(h.receiver.on('/hooks/b2c/result')).toHaveLength(1);
    expect(h.receiver.on('/hooks/b2c/result')[0]!.body.Result.OriginatorConversationID).toBe(ack.body.OriginatorConversationID);
  });

  it('a receiver that fails gets no retry (Daraja does not retry)', async () => {
    h.receiver.status = 500;
    const id = await push();
    await h.resolveStk(id);
    await sleep(100);
    expect(h.receiver.on('/hooks/stk')).toHaveLength(1);
    expect((await h.control('GET', `/callbacks?ref=${id}`)).body).toEqual([expect.objectContaining({ status: 500 })]);
  });

  it('an unreachable callback URL is logged and recorded, nothing breaks', async () => {
    const id = await push({ CallBackURL: 'http://127.0.0.1:9/hooks/stk/x' });
    await h.resolveStk(id);
    const [rec] = (await h.control('GET', `/callbacks?ref=${id}`)).body;
    expect(rec.error).toMatch(/ECONNREFUSED|fetch failed/);
  });

  describe('STK Query disagrees with the callback (sandbox behaviour)', () => {
    it('globally: callback says paid, query says cancelled', async () => {
      await h.control('PATCH', '/settings', { queryDisagrees: true });
      const id = await push();
      await h.resolveStk(id, { outcome: 'success' });
      expect(h.receiver.on('/hooks/stk')[0]!.body.Body.stkCallback.ResultCode).toBe(0);
      expect((await h.stkQuery(id)).body).toMatchObject({ ResultCode: '1032', ResultDesc: 'Request cancelled by user' });
    });

    it('per push, with a chosen code; failures are never contradicted', async () => {
      await h.control('PATCH', '/settings', { queryDisagreeCode: 1037 });
      const paid = await push();
      await h.resolveStk(paid, { outcome: 'success', queryDisagrees: true });
      expect((await h.stkQuery(paid)).body.ResultCode).toBe('1037');
      const failed = await push({ PhoneNumber: '254722000000', PartyA: '254722000000' });
      await h.resolveStk(failed, { outcome: 'cancelled', queryDisagrees: true });
      expect((await h.stkQuery(failed)).body.ResultCode).toBe('1032');
    });
  });

  describe('B2C queue timeouts', () => {
    it('queue_timeout: only a QueueTimeOutURL notification, no result, no money', async () => {
      const ack = await h.b2c();
      const id = ack.body.OriginatorConversationID;
      await h.resolveB2c(id, { delivery: { mode: 'queue_timeout' } });
      const [timeout] = await h.receiver.waitFor('/hooks/b2c/timeout');
      expect(timeout!.body.Result).toMatchObject({ ResultCode: 1, ResultDesc: 'The service request timed out.', OriginatorConversationID: id, ConversationID: ack.body.ConversationID });
      await sleep(100);
      expect(h.receiver.on('/hooks/b2c/result')).toHaveLength(0);
      expect((await h.control('GET', `/b2c/${id}`)).body.status).toBe('expired');
      expect((await h.control('GET', '/ledger')).body.totals.utility).toBe(1_000_000);
    });

    it('echo-shaped notification (as the 121-platform models it): the request body, no credential', async () => {
      await h.control('PATCH', '/settings', { timeoutShape: 'echo' });
      const body = h.b2cBody();
      await h.post('/mpesa/b2c/v3/paymentrequest', body);
      await h.resolveB2c(body.OriginatorConversationID, { delivery: { mode: 'queue_timeout' } });
      const [timeout] = await h.receiver.waitFor('/hooks/b2c/timeout');
      expect(timeout!.body).toMatchObject({ OriginatorConversationID: body.OriginatorConversationID, Amount: 100, PartyB: body.PartyB });
      expect(timeout!.body.SecurityCredential).toBeUndefined();
    });

    it('timeout_then_result: the timeout notification first, then the real result; the payout happened', async () => {
      await h.control('PUT', '/delivery', { mode: 'timeout_then_result', delayMs: 100 });
      const ack = await h.b2c({ Amount: 500 });
      await h.resolveB2c(ack.body.OriginatorConversationID);
      const [timeout] = await h.receiver.waitFor('/hooks/b2c/timeout');
      const [result] = await h.receiver.waitFor('/hooks/b2c/result');
      expect(result!.at).toBeGreaterThan(timeout!.at);
      expect(result!.body.Result.ResultCode).toBe(0);
      expect((await h.control('GET', '/ledger')).body.totals.utility).toBe(1_000_000 - 500);
    });
  });

  it('B2C auto-resolution after DARAJA_SIM_B2C_RESOLVE_MS', async () => {
    await h.control('PATCH', '/settings', { b2cResolveMs: 30 });
    const ack = await h.b2c();
    const [result] = await h.receiver.waitFor('/hooks/b2c/result');
    expect(result!.body.Result.OriginatorConversationID).toBe(ack.body.OriginatorConversationID);
  });
});

describe('injected gateway faults', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  it('spike arrest: the next N calls fail with 500.003.02, then service resumes', async () => {
    expect((await h.control('POST', '/faults', { errorCode: '500.003.02', count: 2 })).status).toBe(201);
    const first = await h.stkPush();
    expect(first).toEqual({ status: 500, body: { requestId: expect.any(String), errorCode: '500.003.02', errorMessage: expect.stringMatching(/^Spike arrest violation/) } });
    const oauth = await h.oauth();
    expect(oauth.status).toBe(500); // the gateway sits in front of OAuth too
    expect((await h.stkPush()).status).toBe(200);
  });

  it('faults can target one path and other codes (quota)', async () => {
    await h.control('POST', '/faults', { errorCode: '500.003.03', count: 1, path: '/mpesa/b2c' });
    expect((await h.stkPush()).status).toBe(200);
    const b2c = await h.b2c();
    expect(b2c.body).toMatchObject({ errorCode: '500.003.03', errorMessage: 'Quota Violation' });
    expect((await h.b2c()).status).toBe(200);
    expect((await h.control('GET', '/faults')).body).toEqual([]);
  });

  it('faults come before the token check, as at the gateway', async () => {
    await h.control('POST', '/faults', {});
    expect((await h.post('/mpesa/stkpush/v1/processrequest', {}, 'bogus')).body.errorCode).toBe('500.003.02');
  });
});
