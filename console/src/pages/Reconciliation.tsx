/**
 * Finance's view: for a date range, daily totals per payment mode (chart and table, each
 * checking opening + collected − paid out − fees = held) and every discrepancy with what
 * to do about it.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { request } from '../api';
import { graphql } from '../gql';
import type { ConsoleReconciliationQuery } from '../gql/graphql';
import { useQuery } from '../useQuery';
import { formatAge, formatAmount, formatDot, formatKes, formatTime, timeZone } from '../format';
import { BarChart } from '../ui/BarChart';
import { Empty, ErrorBox, Loading, OrderLink } from '../ui/parts';

const Recon = graphql(`
  query ConsoleReconciliation($from: DateTime!, $to: DateTime!) {
    reconciliation(from: $from, to: $to) {
      balanced
      dailyTotals { date paymentMode opening collected paidOut refunded fees held balanced ledgerCollected }
      paidNotOnChain { orderId receipt amountKes paidAt ageSeconds outboxStatus }
      onChainWithoutLedger { orderId receiptHash amount fundedAt }
      amountMismatches { orderId receipt ledgerAmountKes chainAmount }
      payoutsDue { orderId role amount dueSince ageSeconds ledgerStatus }
      failedPayouts { orderId role amountKes status reason resultCode attempt updatedAt }
      refundCases { id kind orderId receipt phone amountKes reason createdAt }
      oracleFindings { kind orderId detail }
    }
  }
`);

const CloseCase = graphql(`mutation ConsoleCloseRefundCase($id: ID!, $outcome: RefundCaseOutcome!, $note: String!) { closeRefundCase(id: $id, outcome: $outcome, note: $note) { id status } }`);

type R = ConsoleReconciliationQuery['reconciliation'];
const day = (d: Date) => d.toISOString().slice(0, 10);

interface Finding { key: string; what: ReactNode; todo: string; action?: ReactNode }

function findings(r: R, reload: () => void): Finding[] {
  const f: Finding[] = [];
  for (const p of r.paidNotOnChain) f.push({ key: `pnc-${p.orderId}`, what: <>Paid, not on chain: order <OrderLink id={p.orderId} />, receipt {p.receipt}, {formatKes(p.amountKes)}, {formatAge(p.ageSeconds)} ago (outbox: {p.outboxStatus ?? 'none'})</>, todo: 'The oracle records payments within seconds. If the outbox shows failed or it is older than an hour, check the oracle logs for the order; if it cannot be recorded, refund the customer from the paybill.' });
  for (const p of r.onChainWithoutLedger) f.push({ key: `ocl-${p.orderId}`, what: <>On chain without a ledger payment: order <OrderLink id={p.orderId} />, {formatKes(p.amount)}</>, todo: 'Find the payment on the M-Pesa statement by amount and time. If there is none, the oracle key recorded a payment that never happened: escalate at once (rotate the oracle key).' });
  for (const p of r.amountMismatches) f.push({ key: `am-${p.orderId}`, what: <>Amount differs: order <OrderLink id={p.orderId} />, receipt {p.receipt}: ledger {formatKes(p.ledgerAmountKes)}, chain {formatKes(p.chainAmount)}</>, todo: 'Compare with the M-Pesa statement line for the receipt; refund any over-payment to the customer and note the case.' });
  for (const p of r.payoutsDue) f.push({ key: `pd-${p.orderId}-${p.role}`, what: <>Payout due to the {p.role}: order <OrderLink id={p.orderId} />, {formatKes(p.amount)}, due {formatAge(p.ageSeconds)} (ledger: {p.ledgerStatus ?? 'no attempt'})</>, todo: 'The oracle pays within minutes. If it waits for a person, retry or settle it under Payouts.' });
  for (const p of r.failedPayouts) f.push({ key: `fp-${p.orderId}-${p.role}-${p.attempt}`, what: <>Payout failed: order <OrderLink id={p.orderId} />, {p.role}, {formatKes(p.amountKes)}, {p.status} {p.reason && `(${p.reason})`} attempt {p.attempt}</>, todo: 'Open Payouts: retry when the reason is fixed (e.g. the phone number), or settle it if paid another way.' });
  for (const c of r.refundCases) f.push({ key: `rc-${c.id}`, what: <>Refund needed ({c.kind}): {formatKes(c.amountKes)} from {c.phone ?? 'unknown phone'} {c.receipt && `receipt ${c.receipt}`} {c.orderId && <>order <OrderLink id={c.orderId} /></>}: {c.reason}</>, todo: 'Refund the customer from the paybill (reversal or B2C), then mark the case refunded with the reversal\'s receipt; or dismiss it, saying why.', action: <CloseRefundCase id={c.id} onDone={reload} /> });
  for (const o of r.oracleFindings) f.push({ key: `of-${o.kind}-${o.orderId}`, what: <>Oracle reconciliation: {o.kind} on order <OrderLink id={o.orderId} />: {o.detail}</>, todo: 'See docs/operations.md for this finding: most need a refund or a manual settlement.' });
  for (const d of r.dailyTotals.filter((t) => !t.balanced)) f.push({ key: `ub-${d.date}-${d.paymentMode}`, what: <>{d.date} {d.paymentMode} does not balance</>, todo: 'Opening + collected − paid out − fees should equal held: read that day\'s events in the explorer for a payout or fee the index missed.' });
  return f;
}

export function Reconciliation() {
  const [range, setRange] = useState(() => ({ from: day(new Date(Date.now() - 6 * 86_400_000)), to: day(new Date()) }));
  const [form, setForm] = useState(range);
  // The range is whole UTC days, `to` included (the API's `to` is exclusive).
  const vars = { from: `${range.from}T00:00:00.000Z`, to: new Date(Date.parse(`${range.to}T00:00:00.000Z`) + 86_400_000).toISOString() };
  const { data, error, loading, reload } = useQuery(Recon, vars);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (form.from > form.to) return;
    // The same range again still asks again: finance presses Reconcile to see what changed.
    if (form.from === range.from && form.to === range.to) reload();
    else setRange(form);
  };
  return (
    <>
      <h1>Reconciliation</h1>
      <form className="inline" onSubmit={submit}>
        <label>From <input type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} required /></label>
        <label>To <input type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} required /></label>
        <button type="submit">Reconcile</button>
        {form.from > form.to && <span role="alert" className="warn">“From” must be on or before “To”.</span>}
      </form>
      <p className="small muted">Days are UTC, as the chain's rollups are; times below are in your zone ({timeZone()}).</p>
      {loading ? <Loading what="the reconciliation" /> : error ? <ErrorBox error={error} retry={reload} /> : data && <Report r={data.reconciliation} reload={reload} />}
    </>
  );
}

function Report({ r, reload }: { r: R; reload: () => void }) {
  const list = findings(r, reload);
  const modes = ['NATIVE', 'MPESA'] as const;
  return (
    <>
      <p className={r.balanced && list.length === 0 ? 'ok summary' : 'warn summary'} role="status">
        {r.balanced && list.length === 0 ? 'Balanced: no discrepancies in this range.' : `${list.length} discrepanc${list.length === 1 ? 'y' : 'ies'} to look at.`}
      </p>
      {modes.map((mode) => {
        const rows = r.dailyTotals.filter((d) => d.paymentMode === mode);
        if (!rows.length) return null;
        const fmt = mode === 'MPESA' ? (v: number) => formatKes(v) : (v: number) => formatDot(BigInt(Math.round(v * 1e6)) * 10n ** 12n, 2);
        const num = (v: string) => (mode === 'MPESA' ? Number(v) : Number(BigInt(v) / 10n ** 12n) / 1e6);
        const series = [{ name: 'collected', className: 's1' }, { name: 'paid out', className: 's2' }, { name: 'fees', className: 's3' }];
        const pick = { collected: 'collected', 'paid out': 'paidOut', fees: 'fees' } as const;
        return (
          <section key={mode} aria-labelledby={`totals-${mode}`}>
            <h2 id={`totals-${mode}`}>Daily totals: {mode === 'MPESA' ? 'M-Pesa (KES)' : 'DOT'}</h2>
            <BarChart title={`${mode === 'MPESA' ? 'M-Pesa' : 'DOT'} per day`} days={rows.map((d) => d.date)} series={series}
              values={(date, s) => num(rows.find((d) => d.date === date)![pick[s.name as keyof typeof pick]])} format={fmt} />
            <div className="scroll">
              <table>
                <thead><tr><th scope="col">Day</th><th scope="col">Opening</th><th scope="col">Collected</th><th scope="col">Paid out</th><th scope="col">Refunded</th><th scope="col">Fees</th><th scope="col">Held</th>{mode === 'MPESA' && <th scope="col">Ledger collected</th>}<th scope="col">Balanced</th></tr></thead>
                <tbody>
                  {rows.map((d) => (
                    <tr key={d.date}>
                      <td>{d.date}</td><td>{formatAmount(d.opening, mode)}</td><td>{formatAmount(d.collected, mode)}</td><td>{formatAmount(d.paidOut, mode)}</td>
                      <td>{formatAmount(d.refunded, mode)}</td><td>{formatAmount(d.fees, mode)}</td><td>{formatAmount(d.held, mode)}</td>
                      {mode === 'MPESA' && <td>{d.ledgerCollected == null ? '—' : formatKes(d.ledgerCollected)}{d.ledgerCollected != null && d.ledgerCollected !== d.collected && ' ⚠'}</td>}
                      <td>{d.balanced ? 'yes' : 'NO'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}
      <section aria-labelledby="findings-h">
        <h2 id="findings-h">Discrepancies</h2>
        {list.length === 0 ? <Empty>None: the chain, the M-Pesa ledger and the payouts agree.</Empty> : (
          <ul className="findings">
            {list.map((f) => <li key={f.key}><div>{f.what}</div><div className="todo"><strong>What to do:</strong> {f.todo}</div>{f.action}</li>)}
          </ul>
        )}
      </section>
      <p className="small muted">As of {formatTime(new Date().toISOString())}.</p>
    </>
  );
}

/** Close a refund case once the money went back (or was not owed): the note is kept and audited. */
function CloseRefundCase({ id, onDone }: { id: string; onDone: () => void }) {
  const [note, setNote] = useState('');
  const [msg, setMsg] = useState<{ ok?: string; error?: string }>({});
  const close = async (e: FormEvent, outcome: 'REFUNDED' | 'DISMISSED') => {
    e.preventDefault();
    try {
      const r = (await request(CloseCase, { id, outcome, note })).closeRefundCase;
      setMsg({ ok: `Case ${r.id}: ${r.status.toLowerCase()}` });
      onDone();
    } catch (err) {
      setMsg({ error: (err as Error).message });
    }
  };
  return (
    <form className="inline" onSubmit={(e) => close(e, 'REFUNDED')}>
      <label>Note for case {id} (how it was refunded, or why dismissed) <input value={note} onChange={(e) => setNote(e.target.value)} required minLength={3} /></label>
      <button type="submit">Mark refunded</button>
      <button type="button" disabled={note.trim().length < 3} onClick={(e) => close(e, 'DISMISSED')}>Dismiss</button>
      {msg.ok && <p role="status" className="ok">{msg.ok}</p>}
      {msg.error && <ErrorBox error={msg.error} />}
    </form>
  );
}
