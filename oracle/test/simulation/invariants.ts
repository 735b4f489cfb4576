/**
 * What must hold after a simulation run, whatever happened, read from the three ledgers
 * (the simulator's M-Pesa, the oracle's Postgres, the chain) and the oracle's own
 * reconciliation:
 *
 * - a payout is paid once; paid twice only when M-Pesa hid the first payment long enough
 *   for the oracle's rule to take it as unpaid (queued at Safaricom, "no record" for at
 *   least ORACLE_B2C_FAILURE_CONFIRM_SECONDS), and then an `overpaid` case names it with
 *   both receipts. No new attempt, and no settlement, comes sooner than that after an
 *   attempt Daraja accepted: whatever a person did, and whether the oracle died after Daraja's
 *   acknowledgement or not;
 * - every shilling the paybill received (STK or Pay Bill) funds exactly one order or is an
 *   open refund case with the payer's phone and receipt; refunds of orders go to the phone
 *   the request prompted; nothing is ever paid to a stranger;
 * - the simulator, the oracle's ledger and the chain agree to the shilling, in and out;
 * - the oracle's reconciliation reports nothing but those visible cases.
 */
import { payoutSplit, receiptHash } from '@descrow/contracts';
import type { OracleHarness } from '../harness';
import type { OrderPlan } from './plan';

type Row = Record<string, any>;

export interface InvariantReport {
  violations: string[];
  refundCasesByKind: Record<string, number>;
  overpaidPayouts: number;
  settledPayouts: number;
  collectedKes: number;
  paidOutKes: number;
  settledKes: number;
}

export async function checkInvariants(h: OracleHarness, plans: OrderPlan[], reconciliation: { discrepancies?: Row[] }, confirmSeconds: number, waitingForPeople = new Set<string>()): Promise<InvariantReport> {
  const violations: string[] = [];
  const v = (s: string) => violations.push(s);
  const sim = await h.simLedger();
  const stk: Row[] = await h.control('GET', '/stk');
  const b2c: Row[] = await h.control('GET', '/b2c');
  const c2b: Row[] = await h.control('GET', '/c2b');
  const reqs = (await h.pool.query(`SELECT * FROM oracle.payment_requests`)).rows;
  const cases = (await h.pool.query(`SELECT * FROM oracle.refund_cases WHERE status='open'`)).rows;
  const payouts = (await h.pool.query(`SELECT * FROM oracle.payouts ORDER BY attempt`)).rows;
  const byOrder = new Map(plans.map((o) => [o.orderId.toLowerCase(), o]));
  const orderOfPhone = new Map<string, { o: OrderPlan; role: 'seller' | 'buyer' }>();
  for (const o of plans) {
    orderOfPhone.set(o.sellerPhone, { o, role: 'seller' });
    orderOfPhone.set(o.phone, { o, role: 'buyer' });
  }

  // ---- money out ----------------------------------------------------------------------
  const sentTo = new Map<string, Row[]>(); // order:role → B2C transactions Daraja accepted, oldest first
  for (const t of [...b2c].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))) {
    const who = orderOfPhone.get(t.PartyB);
    if (!who) {
      v(`B2C ${t.OriginatorConversationID} paid ${t.Amount} KES to ${t.PartyB}, a phone no order of ours prompted or sells from`);
      continue;
    }
    const key = `${who.o.orderId.toLowerCase()}:${who.role}`;
    sentTo.set(key, [...(sentTo.get(key) ?? []), t]);
  }
  for (const p of payouts.filter((x) => x.role === 'buyer')) {
    const o = byOrder.get(p.order_id.toLowerCase());
    if (o && p.phone !== o.phone) v(`refund ${p.originator_conversation_id} goes to ${p.phone}, not ${o.phone}, the phone the request prompted`);
  }
  const settledOf = (orderId: string, role: string) => payouts.filter((p) => p.order_id.toLowerCase() === orderId && p.role === role && p.settled_reference);
  const legitOverpaid = new Set<string>();
  const keys = new Set([...sentTo.keys(), ...payouts.filter((p) => p.settled_reference).map((p) => `${p.order_id.toLowerCase()}:${p.role}`)]);
  for (const key of keys) {
    const [orderId, role] = key.split(':') as [string, string];
    const o = byOrder.get(orderId);
    const sent = sentTo.get(key) ?? [];
    const settled = settledOf(orderId, role);
    // A new payment (attempt or settlement) only once every attempt Daraja accepted before it
    // could have been proven unpaid: two "not completed" answers confirmSeconds apart.
    const tooSoon = (at: number, what: string) => {
      for (const earlier of sent.filter((t) => Date.parse(t.createdAt) < at)) {
        const age = (at - Date.parse(earlier.createdAt)) / 1000;
        if (age < confirmSeconds - 1) v(`order ${o?.i ?? orderId} ${role}: ${what} ${age.toFixed(1)}s after Daraja accepted ${earlier.OriginatorConversationID}, too soon for any proof that it did not pay`);
      }
    };
    for (const t of sent.slice(1)) tooSoon(Date.parse(t.createdAt), `attempt ${t.OriginatorConversationID} was sent`);
    for (const s of settled) tooSoon(new Date(s.completed_at).getTime(), `it was settled by hand (MANUAL:${s.settled_reference})`);
    // Paid more than once: a visible case naming every payment.
    const receipts = [...sent.filter((t) => t.ResultCode === 0).map((t) => t.TransactionID as string), ...settled.map((s) => `MANUAL:${s.settled_reference}`)];
    if (receipts.length > 1) {
      const mine = payouts.filter((p) => p.order_id.toLowerCase() === orderId && p.role === role);
      const flagged = mine.filter((p) => p.status === 'overpaid');
      const named = receipts.every((r) => flagged.some((p) => (p.mpesa_receipt === r || (p.reason ?? '').includes(r))));
      const finding = (reconciliation.discrepancies ?? []).find((d) => d.kind === 'payout_exceeds_owed' && String(d.orderId).toLowerCase() === orderId);
      if (!flagged.length || !named) v(`order ${o?.i ?? orderId} ${role}: paid ${receipts.length} times (${receipts.join(', ')}) without an overpaid case naming them: ${mine.map((p) => `#${p.attempt} ${p.status} ${p.mpesa_receipt ?? ''} ${p.reason ?? ''}`).join(' | ')}`);
      else if (!finding || !receipts.every((r) => String(finding.detail).includes(r))) v(`order ${o?.i ?? orderId} ${role}: paid ${receipts.length} times (${receipts.join(', ')}); reconciliation does not name them all: ${finding?.detail ?? 'no finding'}`);
      else legitOverpaid.add(orderId);
    }
  }
  for (const p of payouts.filter((x) => x.status === 'overpaid')) {
    if (!legitOverpaid.has(p.order_id.toLowerCase())) v(`payout ${p.originator_conversation_id} is overpaid but the payout was not paid twice: ${p.reason}`);
  }

  const paidOut = b2c.filter((t) => t.ResultCode === 0).reduce((s, t) => s + t.Amount, 0);
  const ledgerReceipts = payouts.filter((p) => p.mpesa_receipt).reduce((s, p) => s + (p.paid_kes ?? p.amount_kes), 0);
  const ledgerRecorded = payouts.filter((p) => p.status === 'succeeded').reduce((s, p) => s + (p.paid_kes ?? p.amount_kes), 0);
  const settledKes = payouts.filter((p) => p.settled_reference).reduce((s, p) => s + p.amount_kes, 0);
  const overpaidKes = payouts.filter((p) => p.status === 'overpaid').reduce((s, p) => s + (p.paid_kes ?? p.amount_kes), 0);
  if (paidOut !== ledgerReceipts) v(`payouts: the simulator paid out ${paidOut} KES, the oracle's ledger holds receipts for ${ledgerReceipts}`);

  // ---- money in -----------------------------------------------------------------------
  const payments = [
    ...stk.filter((t) => t.ResultCode === 0 && t.MpesaReceiptNumber).map((t) => ({ receipt: t.MpesaReceiptNumber as string, amount: t.Amount as number, phone: t.PhoneNumber as string, how: 'STK' })),
    ...c2b.filter((t) => t.status === 'completed').map((t) => ({ receipt: t.TransID as string, amount: t.Amount as number, phone: t.MSISDN as string, how: 'Pay Bill' })),
  ];
  const byReceipt = new Map<string, Row>();
  for (const r of reqs) for (const k of [r.mpesa_receipt, r.pulled_receipt]) if (k) byReceipt.set(k, r);
  const caseOf = new Map(cases.filter((c) => c.receipt).map((c) => [c.receipt as string, c]));
  let collected = 0;
  for (const t of payments) {
    collected += t.amount;
    const c = caseOf.get(t.receipt);
    const r = byReceipt.get(t.receipt);
    if (c) {
      if (c.phone !== t.phone) v(`refund case ${c.kind} for ${t.how} ${t.receipt} names phone ${c.phone}, the payer was ${t.phone}`);
      if (c.amount_kes !== t.amount) v(`refund case ${c.kind} for ${t.how} ${t.receipt} is for ${c.amount_kes} KES, the payer paid ${t.amount}`);
    } else if (r && r.status === 'paid') {
      const order = await h.getOrder(r.order_id);
      if (order.paymentReceipt !== receiptHash(r.chain_receipt_key)) v(`${t.how} ${t.receipt}: order ${r.order_id} is funded by another receipt`);
    } else {
      v(`paid ${t.how} ${t.receipt} (${t.amount} KES from ${t.phone}) funds no order and is no refund case`);
    }
  }
  const paybill = sim.accounts.filter((a: Row) => a.kind === 'paybill').reduce((s: number, a: Row) => s + a.balance, 0); // opens at 0
  if (paybill !== collected) v(`simulator: the paybill holds ${paybill} KES, its payments total ${collected}`);
  const ledgerPaid = reqs.filter((r) => r.status === 'paid').reduce((s, r) => s + (r.paid_amount ?? r.amount_kes), 0);
  const simReceipts = new Set(payments.map((t) => t.receipt));
  const refundable = cases.filter((c) => c.receipt && simReceipts.has(c.receipt)).reduce((s, c) => s + c.amount_kes, 0);
  if (ledgerPaid + refundable !== collected) {
    const detail = cases.map((c) => `${c.kind} ${c.receipt} ${c.amount_kes} KES (${c.reason}; ledger: ${byReceipt.get(c.receipt)?.status ?? 'none'})`).join('; ');
    v(`oracle ledger: ${ledgerPaid} KES paid + ${refundable} KES in refund cases ≠ ${collected} KES collected: ${detail}`);
  }

  // ---- the chain ----------------------------------------------------------------------
  let chainFunded = 0;
  let chainOwedOut = 0;
  for (const r of reqs.filter((x) => x.status === 'paid')) {
    const o = await h.getOrder(r.order_id);
    chainFunded += Number(o.amount);
    if (o.status === 5 || o.status === 7) {
      const split = payoutSplit(o.amount, o.feeBps, o.buyerShareBps);
      chainOwedOut += Number(split.sellerAmount) + Number(split.buyerAmount);
      if (o.sellerPayoutDue || o.buyerRefundDue) v(`order ${r.order_id}: still owed on chain at the end`);
    }
  }
  if (chainFunded !== ledgerPaid) v(`chain: M-Pesa orders hold ${chainFunded} KES, the ledger says ${ledgerPaid}`);
  if (ledgerRecorded + settledKes !== chainOwedOut) v(`payouts: the ledger paid ${ledgerRecorded} KES by M-Pesa + ${settledKes} KES by hand, completed orders on chain owed ${chainOwedOut}`);
  if (paidOut + settledKes - chainOwedOut !== overpaidKes) v(`payouts: ${paidOut + settledKes - chainOwedOut} KES went out beyond what the chain owed, overpaid cases hold ${overpaidKes}`);
  if (!sim.balanced) v('simulator ledger does not balance');

  // ---- the oracle's own reconciliation -------------------------------------------------
  // Refund cases are checked above; a disputed receipt is the visible trace of a forged callback through a leaked URL.
  const leaked = new Set(plans.filter((o) => o.forge.includes('leaked_stk')).map((o) => o.orderId.toLowerCase()));
  for (const d of reconciliation.discrepancies ?? []) {
    const orderId = String(d.orderId).toLowerCase();
    if (String(d.kind).startsWith('refund_needed')) continue;
    if (d.kind === 'receipt_disputed' && leaked.has(orderId)) continue;
    if ((d.kind === 'payout_exceeds_owed' || d.kind === 'payout_overpaid') && legitOverpaid.has(orderId)) continue;
    if (d.kind === 'payout_needs_attention' && waitingForPeople.has(orderId)) continue; // an unfinished order, in front of a person
    v(`reconciliation: ${d.kind} ${d.orderId} ${d.detail}`);
  }

  const refundCasesByKind: Record<string, number> = {};
  for (const c of cases) refundCasesByKind[c.kind] = (refundCasesByKind[c.kind] ?? 0) + 1;
  return {
    violations, refundCasesByKind, overpaidPayouts: payouts.filter((p) => p.status === 'overpaid').length, settledPayouts: payouts.filter((p) => p.settled_reference).length,
    collectedKes: collected, paidOutKes: paidOut, settledKes,
  };
}
