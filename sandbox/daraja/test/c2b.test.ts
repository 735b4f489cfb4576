/**
 * Pay Bill (C2B): a customer pays the paybill from the M-Pesa menu with an account number
 * of their choosing (issue 24, point 5). Daraja's side is the URL registration and the
 * validation / confirmation callbacks; the payment lands in the paybill's transaction pull
 * beside STK payments, which is what the oracle reads.
 */
import { Harness } from './helpers';

describe('Pay Bill (C2B)', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  const eat = (ms: number) => new Date(ms + 3 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
  const pull = async () => {
    const now = h.clock.now();
    return (await h.post('/pulltransactions/v1/query', { ShortCode: '174379', StartDate: eat(now - 3_600_000), EndDate: eat(now + 1_000), OffSetValue: '0' })).body.Response[0];
  };
  const register = (version: 'v1' | 'v2', extra: Record<string, unknown> = {}) =>
    h.post(`/mpesa/c2b/${version}/registerurl`, { ShortCode: '174379', ResponseType: 'Completed', ConfirmationURL: `${h.receiver.url}/hooks/c2b/confirm`, ...extra });

  it('Register URL answers as Daraja does, and refuses a bad body with the usual envelope', async () => {
    expect(await register('v1')).toEqual({ status: 200, body: { OriginatorCoversationID: expect.any(String), ResponseCode: '0', ResponseDescription: 'Success' } });
    expect((await register('v2', { ValidationURL: `${h.receiver.url}/hooks/c2b/validate` })).status).toBe(200);
    expect(await register('v1', { ResponseType: 'Maybe' })).toMatchObject({ status: 400, body: { errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid ResponseType' } });
    expect(await register('v1', { ConfirmationURL: 'https://example.com/mpesa/confirm' })).toMatchObject({ status: 400, body: { errorMessage: 'Bad Request - Invalid ConfirmationURL' } });
    expect((await h.post('/mpesa/c2b/v1/registerurl', { ShortCode: '174379', ResponseType: 'Completed', ConfirmationURL: `${h.receiver.url}/c` }, null)).status).toBe(404);
  });

  it('a Pay Bill payment moves the money, is confirmed to the registered URL (masked MSISDN), and appears in the pull', async () => {
    await register('v1');
    const paid = await h.control('POST', '/c2b/pay', { phone: '254722000123', amount: 350, billRefNumber: 'DSABC123' });
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({ TransactionType: 'Pay Bill', BillRefNumber: 'DSABC123', Amount: 350, MSISDN: '254722000123', status: 'completed', TransID: expect.stringMatching(/^[A-Z0-9]{10}$/) });
    const [confirmation] = await h.receiver.waitFor('/hooks/c2b/confirm');
    expect(confirmation!.body).toEqual({
      TransactionType: 'Pay Bill', TransID: paid.body.TransID, TransTime: expect.stringMatching(/^\d{14}$/), TransAmount: '350.00', BusinessShortCode: '174379',
      BillRefNumber: 'DSABC123', InvoiceNumber: '', OrgAccountBalance: expect.stringMatching(/^\d+\.00$/), ThirdPartyTransID: '', MSISDN: '254722***123',
      FirstName: expect.any(String), MiddleName: '', LastName: expect.any(String),
    });
    expect(await pull()).toEqual([expect.objectContaining({ transactionId: paid.body.TransID, billreference: 'DSABC123', amount: '350.0', msisdn: 254722000123 })]);
    const ledger = (await h.control('GET', '/ledger')).body;
    expect(ledger.entries.at(-1)).toMatchObject({ from: 'customer:254722000123', to: 'paybill:174379', amount: 350, reason: 'c2b', ref: paid.body.TransID });
    expect(ledger.balanced).toBe(true);
  });

  it('refused by external validation (or unreachable with ResponseType Cancelled), or without the balance: no money moves, nothing is confirmed or pulled', async () => {
    await h.control('PATCH', '/settings', { c2bValidation: true });
    await register('v1', { ResponseType: 'Cancelled', ValidationURL: `${h.receiver.url}/hooks/c2b/validate` });
    h.receiver.status = 500; // the validation URL is down
    const refused = await h.control('POST', '/c2b/pay', { phone: '254722000124', amount: 100, billRefNumber: 'DSABC124' });
    expect(refused).toMatchObject({ status: 402, body: { status: 'rejected', ResultCode: 'C2B00016' } });
    expect(h.receiver.on('/hooks/c2b/validate')).toHaveLength(1);
    h.receiver.status = 200;
    await h.control('PUT', '/ledger/accounts/customer:254722000125', { balance: 50 });
    expect((await h.control('POST', '/c2b/pay', { phone: '254722000125', amount: 100, billRefNumber: 'DSABC125' })).body).toMatchObject({ status: 'rejected', ResultCode: '1' });
    expect(h.receiver.on('/hooks/c2b/confirm')).toHaveLength(0);
    expect(await pull()).toEqual([]);
    expect((await h.control('POST', '/c2b/pay', { phone: '0722000126', amount: 100, billRefNumber: 'X' })).status).toBe(400);
  });
});
