import { Harness } from './helpers';

type Snapshot = { accounts: { id: string; balance: number }[]; totals: { customers: number; paybill: number; utility: number; external: number; inSimulation: number; sum: number }; balanced: boolean; entries: unknown[] };

/** Money conservation across a run of mixed outcomes and delivery modes. */
describe('ledger', () => {
  const h = new Harness({ DARAJA_SIM_WALLET_BALANCE: 20_000, DARAJA_SIM_UTILITY_BALANCE: 30_000, DARAJA_SIM_LOCK_SUBSCRIBER: false });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('every paid STK moves customer → paybill, every paid B2C utility → customer, and the totals always balance', async () => {
    const phones = ['254711000001', '254711000002', '254711000003', '254700001032', '254700000001', '254700001037'];
    const b2cPhones = ['254711000001', '254711000004', '254700002040', '254700002001'];
    const modes = ['normal', 'duplicated', 'never', 'delayed'] as const;
    const expected = new Map<string, number>();
    const add = (id: string, delta: number) => expected.set(id, (expected.get(id) ?? 0) + delta);
    let paybill = 0;
    let utility = 30_000;

    // 40 pushes of assorted amounts and phones, resolved by the rules, with assorted delivery modes.
    for (let i = 0; i < 40; i++) {
      const phone = phones[i % phones.length]!;
      const amount = 1 + ((i * 997) % 9000);
      const push = await h.stkPush({ PhoneNumber: phone, PartyA: phone, Amount: amount });
      expect(push.status).toBe(200);
      await h.resolveStk(push.body.CheckoutRequestID, { delivery: { mode: modes[i % modes.length]!, delayMs: 20 } });
      const q = await h.stkQuery(push.body.CheckoutRequestID);
      if (!expected.has(phone)) expected.set(phone, 20_000);
      if (q.body.ResultCode === '0') {
        add(phone, -amount);
        paybill += amount;
      } else {
        // only the magic numbers and an empty wallet may fail
        expect(phone.startsWith('25470000') || q.body.ResultCode === '1').toBe(true);
      }
    }

    // 20 payouts; some fail by rule, some by balance.
    for (let i = 0; i < 20; i++) {
      const phone = b2cPhones[i % b2cPhones.length]!;
      const amount = 10 + ((i * 1231) % 4000);
      const ack = await h.b2c({ PartyB: phone, Amount: amount });
      await h.resolveB2c(ack.body.OriginatorConversationID, { delivery: { mode: i % 3 === 0 ? 'timeout_then_result' : 'normal', delayMs: 10 } });
      const tx = (await h.control('GET', `/b2c/${ack.body.OriginatorConversationID}`)).body;
      if (!expected.has(phone)) expected.set(phone, 20_000);
      if (tx.ResultCode === 0) {
        add(phone, amount);
        utility -= amount;
      }
      const snap = (await h.control('GET', '/ledger')).body as Snapshot;
      expect(snap.balanced).toBe(true); // after every single step
    }

    const snap = (await h.control('GET', '/ledger')).body as Snapshot;
    const balance = (id: string) => snap.accounts.find((a) => a.id === id)?.balance;
    for (const [phone, amount] of expected) expect([phone, balance(`customer:${phone}`)]).toEqual([phone, amount]);
    expect(balance('paybill:174379')).toBe(paybill);
    expect(balance('utility:600992')).toBe(utility);
    expect(paybill).toBeGreaterThan(0);
    expect(utility).toBeLessThan(30_000);
    expect(snap.totals.sum).toBe(0);
    expect(snap.totals.inSimulation).toBe(30_000 + 20_000 * expected.size);
    expect(snap.totals.customers + snap.totals.paybill + snap.totals.utility).toBe(snap.totals.inSimulation);
  });

  it('balances set through the control API keep the books balanced', async () => {
    await h.control('PUT', '/ledger/accounts/customer:254733000000', { balance: 7 });
    await h.control('PUT', '/ledger/accounts/utility:600992', { balance: 5 });
    const snap = (await h.control('GET', '/ledger')).body as Snapshot;
    expect(snap.accounts.find((a) => a.id === 'customer:254733000000')!.balance).toBe(7);
    expect(snap.balanced).toBe(true);
    expect((await h.control('PUT', '/ledger/accounts/bank:1', { balance: 5 })).status).toBe(400);
  });
});
