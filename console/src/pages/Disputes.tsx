/**
 * The dispute queue with both parties' evidence. The arbiter picks the buyer's share with
 * a slider; the API prepares the exact transaction and amounts (prepareResolveDispute),
 * the console shows them, and only then does the wallet sign.
 */
import { useEffect, useState } from 'react';
import { graphql } from '../gql';
import type { ConsoleDisputesQuery, ConsolePrepareResolveMutation } from '../gql/graphql';
import { request } from '../api';
import { useQuery } from '../useQuery';
import { hasRole, useSession } from '../useSession';
import { session } from '../session';
import { sendPrepared } from '../wallet';
import { formatAge, formatAmount, formatTime } from '../format';
import { AddressLink, Empty, ErrorBox, Loading, OrderLink, Status } from '../ui/parts';

const DisputesQuery = graphql(`
  query ConsoleDisputes($open: Boolean, $after: String) {
    disputes(open: $open, first: 20, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id statement ageSeconds amountAtStake currency raisedBy { address }
        dispute { raisedAt resolved buyerShareBps buyerAmount sellerAmount fee resolvedAt }
        order { id status paymentMode feeBps buyer { address displayName } seller { address displayName } product { title } }
        buyerEvidence { id filename note cid createdAt }
        sellerEvidence { id filename note cid createdAt }
      }
    }
  }
`);
const Prepare = graphql(`
  mutation ConsolePrepareResolve($orderId: ID!, $bps: Int!) {
    prepareResolveDispute(orderId: $orderId, buyerShareBps: $bps) { orderId action buyerAmount sellerAmount fee currency call { to data value chainId } }
  }
`);

type Case = ConsoleDisputesQuery['disputes']['nodes'][number];
type Prepared = ConsolePrepareResolveMutation['prepareResolveDispute'];

export function Disputes() {
  const [open, setOpen] = useState(true);
  // Twenty cases a page (a page of fifty, statements and evidence included, is over the API's cost limit).
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const after = pages[pages.length - 1] ?? null;
  const { data, error, loading, reload } = useQuery(DisputesQuery, { open, after }, { pollMs: 5_000 });
  const show = (which: boolean) => {
    setOpen(which);
    setPages([null]);
  };
  const me = useSession();
  // Kept here, not in the card: a resolved dispute leaves the open queue once indexed.
  const [notice, setNotice] = useState<string | null>(null);
  const resolved = (message: string) => {
    setNotice(message);
    reload();
  };
  return (
    <>
      <h1>Disputes</h1>
      {notice && <p role="status" className="ok">{notice}</p>}
      <fieldset className="inline">
        <legend>Show</legend>
        <label className="choice"><input type="radio" name="which" checked={open} onChange={() => show(true)} /> open</label>
        <label className="choice"><input type="radio" name="which" checked={!open} onChange={() => show(false)} /> all</label>
      </fieldset>
      {loading ? <Loading what="the dispute queue" /> : error && !data ? <ErrorBox error={error} retry={reload} /> : !data?.disputes.nodes.length ? <Empty>No {open ? 'open ' : ''}disputes.</Empty> : (
        data.disputes.nodes.map((c) => <DisputeCard key={c.id} c={c} arbiter={hasRole(me, 'ARBITER')} onResolved={resolved} />)
      )}
      {(pages.length > 1 || data?.disputes.pageInfo.hasNextPage) && (
        <nav aria-label="Dispute pages" className="inline">
          {pages.length > 1 && <button type="button" onClick={() => setPages(pages.slice(0, -1))}>← Previous 20</button>}{' '}
          {data?.disputes.pageInfo.hasNextPage && data.disputes.pageInfo.endCursor && (
            <button type="button" onClick={() => setPages([...pages, data.disputes.pageInfo.endCursor!])}>Next 20 →</button>
          )}
        </nav>
      )}
    </>
  );
}

function Evidence({ who, items }: { who: string; items: Case['buyerEvidence'] }) {
  return (
    <div>
      <h4>{who}'s evidence</h4>
      {items.length === 0 ? <p className="small muted">None uploaded.</p> : (
        <ul className="plain">
          {items.map((e) => <li key={e.id}>{e.filename}{e.note && <>: “{e.note}”</>} <span className="small muted">{formatTime(e.createdAt)} · CID <span className="mono">{e.cid.slice(0, 16)}…</span></span></li>)}
        </ul>
      )}
    </div>
  );
}

function DisputeCard({ c, arbiter, onResolved }: { c: Case; arbiter: boolean; onResolved: (message: string) => void }) {
  const mode = c.order.paymentMode;
  const titleId = `dispute-${c.id}`;
  return (
    <article className="card" aria-labelledby={titleId}>
      <h2 id={titleId}>Order <OrderLink id={c.order.id} /> <Status status={c.order.status} /></h2>
      <p>
        {formatAmount(c.amountAtStake, mode)} at stake · {c.order.product?.title ?? 'product'} · raised by <AddressLink address={c.raisedBy.address} /> {formatAge(c.ageSeconds)} {c.dispute.resolved ? 'before it was resolved' : 'ago'}
      </p>
      <p>Buyer <AddressLink address={c.order.buyer.address} /> {c.order.buyer.displayName} · seller <AddressLink address={c.order.seller.address} /> {c.order.seller.displayName}</p>
      <blockquote>{c.statement ?? <span className="muted">The statement cannot be read.</span>}</blockquote>
      <div className="columns">
        <Evidence who="Buyer" items={c.buyerEvidence} />
        <Evidence who="Seller" items={c.sellerEvidence} />
      </div>
      {c.dispute.resolved ? (
        <p>Resolved {formatTime(c.dispute.resolvedAt)}: {(c.dispute.buyerShareBps ?? 0) / 100} % to the buyer ({formatAmount(c.dispute.buyerAmount, mode)}), seller {formatAmount(c.dispute.sellerAmount, mode)}, fee {formatAmount(c.dispute.fee, mode)}.</p>
      ) : arbiter ? <Resolve orderId={c.order.id} mode={mode} onResolved={onResolved} /> : <p className="small muted">Only the arbiter resolves disputes.</p>}
    </article>
  );
}

function Resolve({ orderId, mode, onResolved }: { orderId: string; mode: string; onResolved: (message: string) => void }) {
  const [bps, setBps] = useState(5_000);
  const [prepared, setPrepared] = useState<{ bps: number; p: Prepared } | null>(null);
  const [state, setState] = useState<{ busy?: string; error?: string; done?: string }>({});
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      request(Prepare, { orderId, bps }).then((r) => live && setPrepared({ bps, p: r.prepareResolveDispute }), (e: Error) => live && setState({ error: e.message }));
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [orderId, bps]);
  const ready = prepared?.bps === bps ? prepared.p : null;
  const sign = async () => {
    if (!ready) return;
    const signer = session.signer();
    if (!signer) return setState({ error: 'no wallet: sign in again' });
    setState({ busy: `Waiting for ${signer.label} to sign and the chain to mine…` });
    try {
      const hash = await sendPrepared(signer, ready.call);
      const message = `Order ${orderId.slice(0, 10)}… resolved in transaction ${hash}: ${bps / 100} % to the buyer. The index shows it within seconds.`;
      setState({ done: message });
      onResolved(message);
    } catch (e) {
      setState({ error: (e as Error).message });
    }
  };
  const id = `share-${orderId}`;
  return (
    <div className="resolve">
      <label htmlFor={id}>Buyer's share: <strong>{bps / 100} %</strong> (seller {100 - bps / 100} %)</label>
      <input id={id} type="range" min={0} max={10_000} step={100} value={bps} onChange={(e) => { setBps(Number(e.target.value)); setState({}); }} />
      <div aria-live="polite">
        {ready ? (
          <dl className="fields split">
            <div className="field"><dt>To the buyer</dt><dd data-testid="split-buyer">{formatAmount(ready.buyerAmount, mode)}</dd></div>
            <div className="field"><dt>To the seller</dt><dd data-testid="split-seller">{formatAmount(ready.sellerAmount, mode)}</dd></div>
            <div className="field"><dt>Fee</dt><dd data-testid="split-fee">{formatAmount(ready.fee, mode)}</dd></div>
          </dl>
        ) : <p className="small">Working out the exact amounts…</p>}
      </div>
      <button type="button" className="primary" disabled={!ready || !!state.busy || !!state.done} onClick={sign}>Resolve: sign with the wallet</button>
      {state.busy && <p role="status">{state.busy}</p>}
      {state.error && <ErrorBox error={state.error} />}
    </div>
  );
}
