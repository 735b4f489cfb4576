/** Admin pages: payouts waiting for a person (retry or settle), KYC review, index lag and service health. */
import { useEffect, useState, type FormEvent } from 'react';
import { graphql } from '../gql';
import { request } from '../api';
import { useQuery } from '../useQuery';
import { formatKes, formatTime } from '../format';
import { AddressLink, Empty, ErrorBox, Loading, OrderLink } from '../ui/parts';

const Payouts = graphql(`
  query ConsolePayouts { payoutsNeedingAttention { id orderId role beneficiary phone amountKes attempt status reason hint resultCode receipt updatedAt } }
`);
const Retry = graphql(`mutation ConsoleRetry($id: ID!, $reason: String!) { retryPayout(id: $id, reason: $reason) { outcome message payoutId } }`);
const Settle = graphql(`mutation ConsoleSettle($id: ID!, $reference: String!, $reason: String!) { settlePayout(id: $id, reference: $reference, reason: $reason) { outcome message payoutId receiptHash } }`);

export function PayoutsPage() {
  const { data, error, loading, reload } = useQuery(Payouts, {}, { pollMs: 10_000 });
  return (
    <>
      <h1>Payouts needing a person</h1>
      {loading ? <Loading what="payouts" /> : error ? <ErrorBox error={error} retry={reload} /> : !data?.payoutsNeedingAttention.length ? <Empty>No payout is waiting for a person.</Empty> : (
        data.payoutsNeedingAttention.map((p) => (
          <article key={p.id} className="card" aria-labelledby={`payout-${p.id}`}>
            <h2 id={`payout-${p.id}`}>{formatKes(p.amountKes)} to the {p.role} ({p.phone})</h2>
            <p>Order <OrderLink id={p.orderId} /> · attempt {p.attempt} · {p.status} · {formatTime(p.updatedAt)}</p>
            <p>{p.reason}{p.hint && <> · last hint: {p.hint}</>}{p.resultCode && <> · result code {p.resultCode}</>}</p>
            <PayoutActions id={p.id} onDone={reload} />
          </article>
        ))
      )}
    </>
  );
}

function PayoutActions({ id, onDone }: { id: string; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [reference, setReference] = useState('');
  const [msg, setMsg] = useState<{ ok?: string; error?: string }>({});
  const act = async (e: FormEvent, kind: 'retry' | 'settle') => {
    e.preventDefault();
    try {
      const r = kind === 'retry' ? (await request(Retry, { id, reason })).retryPayout : (await request(Settle, { id, reference, reason })).settlePayout;
      setMsg({ ok: `${r.outcome}${r.message ? `: ${r.message}` : ''}` });
      onDone();
    } catch (err) {
      setMsg({ error: (err as Error).message });
    }
  };
  return (
    <form className="stack" onSubmit={(e) => act(e, 'retry')}>
      <label>Reason (audited) <input value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3} /></label>
      <button type="submit">Retry the payout</button>
      <label>Payment reference (for settle) <input value={reference} onChange={(e) => setReference(e.target.value)} /></label>
      <button type="button" disabled={!reference || !reason} onClick={(e) => act(e, 'settle')}>Settle: paid outside M-Pesa</button>
      {msg.ok && <p role="status" className="ok">{msg.ok}</p>}
      {msg.error && <ErrorBox error={msg.error} />}
    </form>
  );
}

const KycQueue = graphql(`
  query ConsoleKyc($state: KycState) {
    users(filter: { kycState: $state }, first: 50) { nodes { address displayName kyc { state reason decidedAt documents { id kind filename mimeType size createdAt } } } }
  }
`);
const Review = graphql(`mutation ConsoleReviewKyc($address: String!, $input: KycReviewInput!) { reviewKyc(address: $address, input: $input) { state reason } }`);

export function KycPage() {
  const [state, setState] = useState<'PENDING' | 'APPROVED' | 'REJECTED'>('PENDING');
  const { data, error, loading, reload } = useQuery(KycQueue, { state });
  return (
    <>
      <h1>KYC review</h1>
      <label>State{' '}
        <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
          <option value="PENDING">pending</option><option value="APPROVED">approved</option><option value="REJECTED">rejected</option>
        </select>
      </label>
      {loading ? <Loading what="sellers" /> : error ? <ErrorBox error={error} retry={reload} /> : !data?.users.nodes.length ? <Empty>No sellers in this state.</Empty> : (
        data.users.nodes.map((u) => (
          <article key={u.address} className="card" aria-labelledby={`kyc-${u.address}`}>
            <h2 id={`kyc-${u.address}`}>{u.displayName ?? 'Seller'} <AddressLink address={u.address} /></h2>
            <ul className="plain">{u.kyc?.documents.map((d) => <li key={d.id}>{d.kind}: {d.filename} ({d.mimeType}, {Math.ceil(d.size / 1024)} KB) {formatTime(d.createdAt)}</li>)}</ul>
            {u.kyc?.reason && <p>Reason: {u.kyc.reason}</p>}
            {state === 'PENDING' && <KycDecision address={u.address} onDone={reload} />}
          </article>
        ))
      )}
    </>
  );
}

function KycDecision({ address, onDone }: { address: string; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const decide = async (decision: 'APPROVE' | 'REJECT') => {
    try {
      await request(Review, { address, input: { decision, reason: reason || null } });
      onDone();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="stack">
      <label>Reason (needed to reject) <input value={reason} onChange={(e) => setReason(e.target.value)} /></label>
      <div className="buttons"><button type="button" onClick={() => decide('APPROVE')}>Approve</button><button type="button" disabled={!reason} onClick={() => decide('REJECT')}>Reject</button></div>
      {error && <ErrorBox error={error} />}
    </div>
  );
}

const Status = graphql(`query ConsoleIndexStatus { indexStatus { lastProcessedHeight chainHead lagBlocks } }`);

interface Health { status: string; checks?: Record<string, { ok: boolean; detail?: string; [k: string]: unknown }> }

export function HealthPage() {
  const index = useQuery(Status, {}, { pollMs: 3_000 });
  const [health, setHealth] = useState<Health | { error: string } | null>(null);
  useEffect(() => {
    const load = () => fetch('/health').then((r) => r.json() as Promise<Health>).then(setHealth, (e: Error) => setHealth({ error: e.message }));
    load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, []);
  const s = index.data?.indexStatus;
  return (
    <>
      <h1>Index and services</h1>
      <section aria-labelledby="lag-h">
        <h2 id="lag-h">Index lag</h2>
        {index.loading ? <Loading what="the index status" /> : index.error ? <ErrorBox error={index.error} retry={index.reload} /> : s && (
          <dl className="fields">
            <div className="field"><dt>Indexed to</dt><dd>block {s.lastProcessedHeight}</dd></div>
            <div className="field"><dt>Chain head</dt><dd>{s.chainHead ?? 'unknown'}</dd></div>
            <div className="field"><dt>Behind</dt><dd className={s.lagBlocks && s.lagBlocks > 20 ? 'warn' : 'ok'}>{s.lagBlocks ?? '?'} blocks</dd></div>
          </dl>
        )}
      </section>
      <section aria-labelledby="health-h">
        <h2 id="health-h">Service health (API /health)</h2>
        {!health ? <Loading what="health" /> : 'error' in health ? <ErrorBox error={health.error} /> : (
          <>
            <p className={health.status === 'ok' ? 'ok' : 'warn'}>Overall: {health.status}</p>
            <table>
              <thead><tr><th scope="col">Check</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
              <tbody>
                {Object.entries(health.checks ?? {}).map(([name, c]) => (
                  <tr key={name}><td>{name}</td><td>{c.ok ? 'ok' : 'failing'}</td><td className="small">{Object.entries(c).filter(([k]) => k !== 'ok').map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}</td></tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </>
  );
}
