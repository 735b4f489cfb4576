/**
 * The faults a bad day at Safaricom brings, played by the simulator itself (issue 15,
 * point 8), and the paybill's transaction pull: tests of the oracle need no forged
 * callbacks for them.
 */
import type { ManualClock } from '../src';
import { Harness, item } from './helpers';

describe('fault modes and the transaction pull', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  const statusBody = (originatorConversationId: string) => ({
    Initiator: 'testapi', SecurityCredential: h.credential(), CommandID: 'TransactionStatusQuery', OriginalConversationID: originatorConversationId,
    PartyA: '600992', IdentifierType: '4', ResultURL: `${h.receiver.url}/hooks/status/t0k3n`, QueueTimeOutURL: `${h.receiver.url}/hooks/status-to/t0k3n`, Remarks: 'recon',
  });

  it('failure_then_success: a failure result for a payout that completes; the success follows and the money moved once', async () => {
    const ack = await h.b2c({ Amount: 250, PartyB: '254711000555' });
    await h.resolveB2c(ack.body.OriginatorConversationID, { delivery: { mode: 'failure_then_success', delayMs: 100 } });
    const [first, second] = await h.receiver.waitFor('/hooks/b2c/result', 2);
    expect(first!.body.Result).toMatchObject({ ResultCode: 17, OriginatorConversationID: ack.body.OriginatorConversationID, ConversationID: ack.body.ConversationID });
    expect(first!.body.Result.ResultParameters).toBeUndefined();
    expect(second!.body.Result).toMatchObject({ ResultCode: 0, ConversationID: ack.body.ConversationID });
    const ledger = (await h.control('GET', '/ledger')).body;
    expect(ledger.accounts.find((a: { id: string }) => a.id === 'customer:254711000555').balance).toBeGreaterThanOrEqual(250);
    expect(ledger.entries.filter((e: { reason: string }) => e.reason === 'b2c')).toHaveLength(1);
  });

  it('statusWhileQueued no_record: Transaction Status says R000002 while the payout is queued, Completed once it is paid', async () => {
    await h.control('PATCH', '/settings', { statusWhileQueued: 'no_record' });
    const ack = await h.b2c();
    await h.post('/mpesa/transactionstatus/v1/query', statusBody(ack.body.OriginatorConversationID));
    const [queued] = await h.receiver.waitFor('/hooks/status/', 1);
    expect(queued!.body.Result.ResultCode).toBe('R000002');
    // It names what was asked about, which is what makes it so believable.
    expect(item(queued!.body.Result.ResultParameters.ResultParameter, 'OriginatorConversationID')!.Value).toBe(ack.body.OriginatorConversationID);
    await h.resolveB2c(ack.body.OriginatorConversationID);
    await h.post('/mpesa/transactionstatus/v1/query', statusBody(ack.body.OriginatorConversationID));
    const got = await h.receiver.waitFor('/hooks/status/', 2);
    expect(item(got[1]!.body.Result.ResultParameters.ResultParameter, 'TransactionStatus')!.Value).toBe('Completed');
  });

  it('a time-boxed fault: STK Query fails for a while, then recovers (other paths unaffected)', async () => {
    const push = await h.stkPush();
    await h.resolveStk(push.body.CheckoutRequestID, { outcome: 'success' });
    const fault = await h.control('POST', '/faults', { errorCode: '500.003.02', path: '/mpesa/stkpushquery', forMs: 60_000 });
    expect(fault.status).toBe(201);
    expect(fault.body).toEqual([{ code: '500.003.02', path: '/mpesa/stkpushquery', untilMs: 60_000 }]);
    for (let i = 0; i < 3; i++) expect((await h.stkQuery(push.body.CheckoutRequestID)).body).toMatchObject({ errorCode: '500.003.02' });
    expect((await h.stkPush({ PhoneNumber: '254711000556', PartyA: '254711000556' })).status).toBe(200);
    (h.clock as ManualClock).advance(60_001);
    expect((await h.stkQuery(push.body.CheckoutRequestID)).body).toMatchObject({ ResultCode: '0' });
    expect((await h.control('GET', '/faults')).body).toEqual([]);
  });

  it('the transaction pull lists paid STK payments in the window with their bill reference, paged by OffSetValue', async () => {
    const paid = [];
    for (const ref of ['DSREF000001', 'DSREF000002']) {
      const push = await h.stkPush({ AccountReference: ref, Amount: 120 });
      paid.push((await h.resolveStk(push.body.CheckoutRequestID, { outcome: 'success' })).body);
    }
    const cancelled = await h.stkPush({ AccountReference: 'DSREF000003', PhoneNumber: '254711000557', PartyA: '254711000557' });
    await h.resolveStk(cancelled.body.CheckoutRequestID, { outcome: 'cancelled' });
    const eat = (ms: number) => new Date(ms + 3 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    const now = h.clock.now();
    const res = await h.post('/pulltransactions/v1/query', { ShortCode: '174379', StartDate: eat(now - 3_600_000), EndDate: eat(now + 1_000), OffSetValue: '0' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ResponseCode: '1000', ResponseMessage: 'Success' });
    expect(res.body.Response[0]).toEqual(paid.map((t: { MpesaReceiptNumber: string; AccountReference: string }) => expect.objectContaining({
      transactionId: t.MpesaReceiptNumber, billreference: t.AccountReference, amount: '120.0', msisdn: 254708374149, transactiontype: 'c2b-pay-bill-debit',
    })));
    const next = await h.post('/pulltransactions/v1/query', { ShortCode: '174379', StartDate: eat(now - 3_600_000), EndDate: eat(now + 1_000), OffSetValue: '2' });
    expect(next.body.Response).toEqual([[]]);
    const bad = await h.post('/pulltransactions/v1/query', { ShortCode: '174379', StartDate: '2026-13-40 00:00:00', EndDate: eat(now), OffSetValue: '0' });
    expect(bad).toMatchObject({ status: 400, body: { errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid StartDate' } });
    expect((await h.post('/pulltransactions/v1/register', { ShortCode: '174379', RequestType: 'Pull', NominatedNumber: '254708374149', CallBackURL: `${h.receiver.url}/pull` })).body)
      .toMatchObject({ ResponseStatus: '1000', ResponseDescription: 'Shortcode Registered Successfully' });
  });
});
