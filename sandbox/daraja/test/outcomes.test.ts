import { parseDarajaSimConfig } from '../src/config';
import { Harness, item } from './helpers';

/** Every outcome rule: magic numbers, per-phone and per-amount rules, config rules, ledger-driven failures. */
describe('STK outcome rules', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  async function pushAndSettle(phone: string, amount = 100) {
    const push = await h.stkPush({ PhoneNumber: phone, PartyA: phone, Amount: amount });
    expect(push.status).toBe(200);
    const id = push.body.CheckoutRequestID as string;
    const before = h.receiver.on('/hooks/stk').length;
    await h.resolveStk(id); // no outcome given: the rules decide
    const all = await h.receiver.waitFor('/hooks/stk', before + 1);
    return { id, callback: all[before]!.body.Body.stkCallback, query: (await h.stkQuery(id)).body };
  }

  it.each([
    ['254700000001', 1, 'The balance is insufficient for the transaction.'],
    ['254700001032', 1032, 'Request cancelled by user'],
    ['254700001037', 1037, 'DS timeout user cannot be reached'],
    ['254700002001', 2001, 'The initiator information is invalid.'],
    ['254700001019', 1019, 'Transaction has expired.'],
  ])('magic number %s ends with ResultCode %s, no metadata, no money moved', async (phone, code, desc) => {
    const { callback, query } = await pushAndSettle(phone);
    expect(callback).toEqual({ MerchantRequestID: expect.any(String), CheckoutRequestID: expect.any(String), ResultCode: code, ResultDesc: desc });
    expect(query).toMatchObject({ ResultCode: String(code), ResultDesc: desc });
    const ledger = (await h.control('GET', '/ledger')).body;
    expect(ledger.totals.paybill).toBe(0);
  });

  it('any other phone pays, and the money moves from the wallet to the paybill', async () => {
    const { callback } = await pushAndSettle('254712345678', 1234);
    expect(callback.ResultCode).toBe(0);
    const ledger = (await h.control('GET', '/ledger')).body;
    const balance = (id: string) => ledger.accounts.find((a: { id: string }) => a.id === id).balance;
    expect(balance('customer:254712345678')).toBe(100_000 - 1234);
    expect(balance('paybill:174379')).toBe(1234);
  });

  it('per-phone and per-amount rules from the control API, newest first, by alias or by code', async () => {
    await h.control('POST', '/rules', { phone: '254711111111', outcome: 'unreachable' });
    await h.control('POST', '/rules', { product: 'stk', minAmount: 5000, maxAmount: 6000, outcome: 'expired' });
    await h.control('POST', '/rules', { amount: 777, outcome: 'cancelled' });
    await h.control('POST', '/rules', { phone: '254722222222', outcome: '1' });
    expect((await pushAndSettle('254711111111')).callback.ResultCode).toBe(1037);
    expect((await pushAndSettle('254733333333', 5500)).callback.ResultCode).toBe(1019);
    expect((await pushAndSettle('254733333333', 6001)).callback.ResultCode).toBe(0);
    expect((await pushAndSettle('254744444444', 777)).callback.ResultCode).toBe(1032);
    expect((await pushAndSettle('254722222222')).callback.ResultCode).toBe(1);
    expect((await h.control('GET', '/rules')).body).toHaveLength(4);
    expect((await h.control('DELETE', '/rules')).body).toEqual([]);
  });

  it('bad rules are refused with a readable error', async () => {
    const res = await h.control('POST', '/rules', { phone: '0711', outcome: 'maybe' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/phone|outcome/);
  });

  it('an explicit outcome from the control API beats the rules', async () => {
    const { CheckoutRequestID: id } = (await h.stkPush({ PhoneNumber: '254700001032', PartyA: '254700001032' })).body;
    await h.resolveStk(id, { outcome: 0 });
    const [cb] = await h.receiver.waitFor('/hooks/stk');
    expect(cb!.body.Body.stkCallback.ResultCode).toBe(0);
  });

  it('a "pending" rule holds the push even with auto-resolution on, until the control API resolves it', async () => {
    await h.control('PATCH', '/settings', { stkResolveMs: 20 });
    await h.control('POST', '/rules', { phone: '254755555555', outcome: 'pending' });
    const { CheckoutRequestID: id } = (await h.stkPush({ PhoneNumber: '254755555555', PartyA: '254755555555' })).body;
    await new Promise((r) => setTimeout(r, 80));
    expect((await h.stkQuery(id)).status).toBe(500);
    await h.resolveStk(id, { outcome: 'wrong_pin' });
    expect((await h.stkQuery(id)).body.ResultCode).toBe('2001');
  });

  it('the ledger decides too: empty wallet → 1, over 250,000 → 3, over the 500,000 daily cap → 4, wrong PartyB → 2028', async () => {
    await h.control('PUT', '/ledger/accounts/customer:254766666666', { balance: 50 });
    expect((await pushAndSettle('254766666666', 51)).callback.ResultCode).toBe(1);
    expect((await pushAndSettle('254766666666', 50)).callback.ResultCode).toBe(0);

    await h.control('PUT', '/ledger/accounts/customer:254777777777', { balance: 500_000 });
    expect((await pushAndSettle('254777777777', 250_001)).callback.ResultCode).toBe(3);
    expect((await pushAndSettle('254777777777', 250_000)).callback.ResultCode).toBe(0);
    expect((await pushAndSettle('254777777777', 200_000)).callback.ResultCode).toBe(0);
    expect((await pushAndSettle('254777777777', 50_001)).callback.ResultCode).toBe(4);

    const push = await h.stkPush({ PhoneNumber: '254788888888', PartyA: '254788888888', PartyB: '600000' });
    await h.resolveStk(push.body.CheckoutRequestID);
    expect((await h.stkQuery(push.body.CheckoutRequestID)).body.ResultCode).toBe('2028');
    expect((await h.control('GET', '/ledger')).body.balanced).toBe(true);
  });
});

describe('rules from configuration (DARAJA_SIM_RULES)', () => {
  const h = new Harness({ DARAJA_SIM_RULES: [{ phone: '254799999999', outcome: 'cancelled' }, { product: 'b2c', outcome: 'not_registered' }] });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('applies them from start-up, each to its product', async () => {
    const push = await h.stkPush({ PhoneNumber: '254799999999', PartyA: '254799999999' });
    await h.resolveStk(push.body.CheckoutRequestID);
    expect((await h.stkQuery(push.body.CheckoutRequestID)).body.ResultCode).toBe('1032');
    const b2c = await h.b2c();
    await h.resolveB2c(b2c.body.OriginatorConversationID);
    const [result] = await h.receiver.waitFor('/hooks/b2c/result');
    expect(result!.body.Result.ResultCode).toBe(2040);
  });

  it('parses them from the environment as JSON and names the variable when they are wrong', () => {
    expect(parseDarajaSimConfig({ DARAJA_SIM_RULES: '[{"amount":5,"outcome":"expired"}]' }).DARAJA_SIM_RULES).toEqual([{ amount: 5, outcome: 'expired' }]);
    expect(() => parseDarajaSimConfig({ DARAJA_SIM_RULES: '[{"outcome":"sometimes"}]' })).toThrow(/DARAJA_SIM_RULES/);
    expect(() => parseDarajaSimConfig({ DARAJA_SIM_RULES: 'not json' })).toThrow(/DARAJA_SIM_RULES/);
    expect(() => parseDarajaSimConfig({ MPESA_SHORTCODE: '17' })).toThrow(/MPESA_SHORTCODE/);
    expect(parseDarajaSimConfig({}).DARAJA_SIM_PORT).toBe(4200);
  });
});

describe('B2C outcome rules', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());
  beforeEach(() => h.reset());

  async function payAndSettle(overrides: Record<string, unknown>, outcome?: unknown) {
    const ack = await h.b2c(overrides);
    expect(ack.status).toBe(200);
    const before = h.receiver.on('/hooks/b2c/result').length;
    await h.resolveB2c(ack.body.OriginatorConversationID, outcome === undefined ? {} : { outcome });
    const results = await h.receiver.waitFor('/hooks/b2c/result', before + 1);
    return results[before]!.body.Result;
  }

  it.each([
    ['254700002001', 2001],
    ['254700000001', 1],
    ['254700002040', 2040],
  ])('magic number %s ends with ResultCode %s, a placeholder TransactionID and no ResultParameters', async (phone, code) => {
    const result = await payAndSettle({ PartyB: phone });
    expect(result.ResultCode).toBe(code);
    expect(result.TransactionID).toMatch(/^TJL0000000$/);
    expect(result.ResultParameters).toBeUndefined();
  });

  it.each([['success', 0], ['invalid_initiator', 2001], ['insufficient_funds', 1], ['not_registered', 2040]])('control outcome %s → %s', async (outcome, code) => {
    expect((await payAndSettle({}, outcome)).ResultCode).toBe(code);
  });

  it('an STK-only alias is refused for B2C', async () => {
    const ack = await h.b2c();
    const res = await h.resolveB2c(ack.body.OriginatorConversationID, { outcome: 'cancelled' });
    expect(res.status).toBe(400);
  });

  it('limits and balances: below 10 → 2, over 250,000 → 3, utility short → 1, recipient over 500,000 → 8', async () => {
    expect((await payAndSettle({ Amount: 9 })).ResultCode).toBe(2);
    expect((await payAndSettle({ Amount: 250_001 })).ResultCode).toBe(3);
    await h.control('PUT', '/ledger/accounts/customer:254705000001', { balance: 499_990 });
    expect((await payAndSettle({ PartyB: '254705000001', Amount: 11 })).ResultCode).toBe(8);
    expect((await payAndSettle({ PartyB: '254705000001', Amount: 10 })).ResultCode).toBe(0);
    await h.control('PUT', '/ledger/accounts/utility:600992', { balance: 99 });
    expect((await payAndSettle({ Amount: 100 })).ResultCode).toBe(1);
    const wrongShortcode = await payAndSettle({ PartyA: '600000' });
    expect(wrongShortcode.ResultCode).toBe(2028);
  });

  it('successful result: ResultParameters typed like Daraja, receipt, balances from the ledger', async () => {
    const result = await payAndSettle({ Amount: 10, PartyB: '254705912645' });
    const params = result.ResultParameters.ResultParameter;
    expect(result).toMatchObject({ ResultType: 0, ResultCode: 0, ResultDesc: 'The service request is processed successfully.' });
    expect(result.ConversationID).toMatch(/^AG_20251021_[0-9a-f]{20}$/);
    expect(result.TransactionID).toMatch(/^TJL[A-Z0-9]{7}$/);
    expect(item(params, 'TransactionAmount')!.Value).toBe(10);
    expect(item(params, 'TransactionReceipt')!.Value).toBe(result.TransactionID);
    expect(item(params, 'ReceiverPartyPublicName')!.Value).toMatch(/^254705912645 - [A-Z ]+$/);
    expect(item(params, 'TransactionCompletedDateTime')!.Value).toBe('21.10.2025 19:39:08');
    expect(item(params, 'B2CUtilityAccountAvailableFunds')!.Value).toBe(1_000_000 - 10);
    expect(item(params, 'B2CRecipientIsRegisteredCustomer')!.Value).toBe('Y');
    expect(result.ReferenceData.ReferenceItem.Key).toBe('QueueTimeoutURL');
  });
});
