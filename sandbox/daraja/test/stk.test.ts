import { ERROR_ENVELOPE, Harness, item, stkPassword } from './helpers';
import { SANDBOX_PASSKEY } from '../src/config';

describe('STK Push and STK Push Query', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  it('the password recipe matches the documented test vector', () => {
    expect(stkPassword('174379', SANDBOX_PASSKEY, '20210628092408')).toBe(
      'MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4',
    );
  });

  it('accepts a push with Daraja ids and string ResponseCode "0"', async () => {
    const res = await h.stkPush();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      MerchantRequestID: expect.stringMatching(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d+$/),
      // ws_CO_ + DDMMYYYYHHmmss (EAT: 16:39:08 UTC is 19:39:08 in Nairobi) + ms + 9-digit subscriber
      CheckoutRequestID: expect.stringMatching(/^ws_CO_21102025193908\d{3}708374149$/),
      ResponseCode: '0',
      ResponseDescription: 'Success. Request accepted for processing',
      CustomerMessage: 'Success. Request accepted for processing',
    });
  });

  it('query says "being processed" (HTTP 500, requestId = CheckoutRequestID) until resolved, then answers with string codes', async () => {
    const { CheckoutRequestID: id, MerchantRequestID } = (await h.stkPush()).body;
    const pending = await h.stkQuery(id);
    expect(pending).toEqual({ status: 500, body: { requestId: id, errorCode: '500.001.1001', errorMessage: 'The transaction is being processed' } });

    await h.resolveStk(id, { outcome: 'cancelled' });
    const done = await h.stkQuery(id);
    expect(done).toEqual({
      status: 200,
      body: {
        ResponseCode: '0',
        ResponseDescription: 'The service request has been accepted successsfully',
        MerchantRequestID,
        CheckoutRequestID: id,
        ResultCode: '1032',
        ResultDesc: 'Request cancelled by user',
      },
    });
  });

  it('a paid push calls back over HTTP with metadata typed like Daraja (numbers, Amount as 1.00-style decimal, empty Balance)', async () => {
    const { CheckoutRequestID: id, MerchantRequestID } = (await h.stkPush({ Amount: 250 })).body;
    await h.resolveStk(id, { outcome: 'success' });
    const [cb] = await h.receiver.waitFor('/hooks/stk/t0k3n');
    expect(cb!.headers.authorization).toBeUndefined(); // Daraja signs nothing
    expect(cb!.raw).toContain('{"Name":"Amount","Value":250.00}');
    const stk = cb!.body.Body.stkCallback;
    expect(stk).toMatchObject({ MerchantRequestID, CheckoutRequestID: id, ResultCode: 0, ResultDesc: 'The service request is processed successfully.' });
    const items = stk.CallbackMetadata.Item;
    expect(item(items, 'Amount')!.Value).toBe(250);
    expect(item(items, 'MpesaReceiptNumber')!.Value).toMatch(/^TJL[A-Z0-9]{7}$/); // T=2025, J=October, L=21
    expect(item(items, 'Balance')).toEqual({ Name: 'Balance' });
    expect(item(items, 'TransactionDate')!.Value).toBe(20251021193908);
    expect(item(items, 'PhoneNumber')!.Value).toBe(254708374149);
    expect((await h.stkQuery(id)).body.ResultCode).toBe('0');
  });

  it('resolving twice is refused, unknown ids are reported', async () => {
    const { CheckoutRequestID: id } = (await h.stkPush()).body;
    expect((await h.resolveStk(id)).status).toBe(200);
    expect((await h.resolveStk(id)).status).toBe(409);
    expect((await h.resolveStk('ws_CO_nope')).status).toBe(404);
    expect(await h.stkQuery('ws_CO_191220191020363925')).toEqual({
      status: 400,
      body: { ...ERROR_ENVELOPE, errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid CheckoutRequestID' },
    });
  });

  describe('validation like Daraja', () => {
    const invalid: [string, Record<string, unknown>, string][] = [
      ['BusinessShortCode', { BusinessShortCode: 'abc' }, 'Bad Request - Invalid BusinessShortCode'],
      ['Timestamp shape', { Timestamp: '2024-07-21 12:54' }, 'Bad Request - Invalid Timestamp'],
      ['Timestamp impossible date', { Timestamp: '20240231120000' }, 'Bad Request - Invalid Timestamp'],
      ['TransactionType', { TransactionType: 'CustomerPayBill' }, 'Bad Request - Invalid TransactionType'],
      ['decimal Amount', { Amount: 10.5 }, 'Bad Request - Invalid Amount'],
      ['decimal string Amount', { Amount: '10.50' }, 'Bad Request - Invalid Amount'],
      ['zero Amount', { Amount: 0 }, 'Bad Request - Invalid Amount'],
      ['PartyA', { PartyA: '0708374149' }, 'Bad Request - Invalid PartyA'],
      ['PhoneNumber with +', { PhoneNumber: '+254708374149' }, 'Bad Request - Invalid PhoneNumber'],
      ['PhoneNumber 2542', { PhoneNumber: '254208374149' }, 'Bad Request - Invalid PhoneNumber'],
      ['CallBackURL with a space', { CallBackURL: 'https://pay.example.com/hooks/stk/abc ' }, 'Bad Request - Invalid CallBackURL'],
      ['CallBackURL not a URL', { CallBackURL: 'pay.example.com/hooks' }, 'Bad Request - Invalid CallBackURL'],
      ['AccountReference > 12', { AccountReference: 'ORDER-123456789' }, 'Bad Request - Invalid AccountReference'],
      ['AccountReference missing', { AccountReference: undefined }, 'Bad Request - Invalid AccountReference'],
      ['TransactionDesc > 13', { TransactionDesc: 'Payment for order 42' }, 'Bad Request - Invalid TransactionDesc'],
    ];
    it.each(invalid)('%s → 400.002.02', async (_name, overrides, message) => {
      const res = await h.stkPush(overrides);
      expect(res).toEqual({ status: 400, body: { ...ERROR_ENVELOPE, errorCode: '400.002.02', errorMessage: message } });
    });

    it.each(['mpesa', 'M-PESA', 'Safaricom', 'exe', 'cmd', 'SQL', 'query'])('refuses callback URLs containing %s', async (word) => {
      const res = await h.stkPush({ CallBackURL: `https://pay.example.com/${word}/cb` });
      expect(res.body.errorMessage).toBe('Bad Request - Invalid CallBackURL');
    });

    it('accepts 2541… numbers, digit strings for numbers and numbers for strings', async () => {
      const res = await h.stkPush({ PhoneNumber: '254110000001', PartyA: 254110000001, Amount: '5', BusinessShortCode: 174379 });
      expect(res.status).toBe(200);
      expect(res.body.CheckoutRequestID).toMatch(/110000001$/);
    });

    it('wrong password or mismatched timestamp: 500.001.1001 "Wrong credentials"; unknown shortcode: "Merchant does not exist"', async () => {
      const body = h.stkBody();
      const wrongKey = await h.post('/mpesa/stkpush/v1/processrequest', { ...body, Password: stkPassword('174379', 'not-the-passkey', body.Timestamp) });
      expect(wrongKey).toEqual({ status: 500, body: { ...ERROR_ENVELOPE, errorCode: '500.001.1001', errorMessage: 'Wrong credentials' } });
      const otherTime = await h.post('/mpesa/stkpush/v1/processrequest', { ...body, Timestamp: '20240101000000' });
      expect(otherTime.body.errorMessage).toBe('Wrong credentials');
      const merchant = await h.stkPush({ BusinessShortCode: '174380', PartyB: '174380' });
      expect(merchant.body).toMatchObject({ errorCode: '500.001.1001', errorMessage: 'Merchant does not exist' });
      const query = await h.post('/mpesa/stkpushquery/v1/query', { BusinessShortCode: '174379', Password: 'x', Timestamp: body.Timestamp, CheckoutRequestID: 'ws_CO_1' });
      expect(query.body.errorMessage).toBe('Wrong credentials');
    });

    it('payload, content type, method and path errors use the envelope too', async () => {
      const auth = { authorization: `Bearer ${h.token}` };
      const badJson = await fetch(`${h.url}/mpesa/stkpush/v1/processrequest`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"Amount":' });
      expect(badJson.status).toBe(400);
      expect(await badJson.json()).toMatchObject({ errorCode: '400.002.05', errorMessage: 'Invalid request payload' });
      // A wrong Content-Type gives Daraja's misleading shortcode error.
      const form = await fetch(`${h.url}/mpesa/stkpush/v1/processrequest`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'Amount=1' });
      expect(await form.json()).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid BusinessShortCode' });
      const get = await fetch(`${h.url}/mpesa/stkpush/v1/processrequest`, { headers: auth });
      expect(get.status).toBe(404);
      expect(await get.json()).toMatchObject({ errorCode: '404.001.04' });
      const put = await fetch(`${h.url}/mpesa/stkpush/v1/processrequest`, { method: 'PUT', headers: auth });
      expect(put.status).toBe(405);
      const nowhere = await fetch(`${h.url}/mpesa/stkpush/v2/processrequest`, { method: 'POST', headers: auth });
      expect(nowhere.status).toBe(404);
      expect(await nowhere.json()).toEqual({ ...ERROR_ENVELOPE, errorCode: '404.001.01', errorMessage: 'Resource not found' });
    });
  });

  it('a second push to a phone with one pending gets "Unable to lock subscriber"', async () => {
    const first = (await h.stkPush()).body.CheckoutRequestID;
    const second = await h.stkPush();
    expect(second.status).toBe(500);
    expect(second.body).toMatchObject({ errorCode: '500.001.1001', errorMessage: expect.stringMatching(/^Unable to lock subscriber/) });
    await h.resolveStk(first);
    expect((await h.stkPush()).status).toBe(200);
  });
});

describe('STK automatic resolution', () => {
  const h = new Harness({ DARAJA_SIM_STK_RESOLVE_MS: 40 });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('resolves by the rules after DARAJA_SIM_STK_RESOLVE_MS without any control call', async () => {
    const { CheckoutRequestID: id } = (await h.stkPush({ PhoneNumber: '254700001037', PartyA: '254700001037' })).body;
    const [cb] = await h.receiver.waitFor('/hooks/stk');
    expect(cb!.body.Body.stkCallback).toEqual({ MerchantRequestID: expect.any(String), CheckoutRequestID: id, ResultCode: 1037, ResultDesc: 'DS timeout user cannot be reached' });
  });
});
