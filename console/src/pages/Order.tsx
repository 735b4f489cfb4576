/**
 * One order: its status timeline from the chain's events, the parties, amount, split and
 * fee, payment and payout receipts, linked to its blocks, transactions and accounts.
 * Updates live through the orderUpdated subscription.
 */
import { useEffect } from 'react';
import { graphql } from '../gql';
import { subscribe } from '../api';
import { useQuery } from '../useQuery';
import { formatAmount, formatTime } from '../format';
import { AddressLink, BlockLink, Empty, ErrorBox, Field, Loading, Status, TxLink } from '../ui/parts';

const OrderQuery = graphql(`
  query ConsoleOrder($id: ID!) {
    order(id: $id) {
      id status onChain paymentMode currency amount feeBps fee buyerAmount sellerAmount paidToSeller refundedToBuyer
      deadline sellerPayoutDue buyerRefundDue paymentReceiptHash createdAt fundedAt shippedAt deliveredAt completedAt createdBlock updatedBlock
      buyer { address displayName } seller { address displayName } product { title }
      dispute { raisedBy raisedAt resolved buyerShareBps buyerAmount sellerAmount fee resolvedAt }
      mpesaPayment { status receipt amountKes paidAt }
      mpesaPayouts { role amountKes status receipt attempt completedAt }
      payouts { id kind recipient amount receiptHash credited blockNumber timestamp transactionHash }
      events { id kind args { name value } blockNumber transactionHash sender timestamp anomaly anomalyReason }
    }
  }
`);

const Updates = graphql(`
  subscription ConsoleOrderUpdated($id: ID!) { orderUpdated(id: $id) { id status updatedBlock } }
`);

export function OrderPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useQuery(OrderQuery, { id });
  const updatedBlock = data?.order?.updatedBlock;
  useEffect(() => subscribe(Updates, { id }, (u) => {
    if (u.orderUpdated.updatedBlock !== updatedBlock) reload();
  }, () => undefined), [id, updatedBlock]);
  if (loading) return <Loading what="the order" />;
  if (error) return <ErrorBox error={error} retry={reload} />;
  const o = data?.order;
  if (!o) return <Empty>No order {id} (the index may not have reached it yet).</Empty>;
  const m = o.paymentMode;
  return (
    <>
      <h1>Order <span className="mono break">{o.id}</span></h1>
      <p><Status status={o.status} /> {o.product?.title && <>· {o.product.title}</>} · paid in {m === 'MPESA' ? 'M-Pesa (KES)' : 'DOT'}</p>
      <div className="columns">
        <section aria-labelledby="money-h">
          <h2 id="money-h">Money</h2>
          <dl className="fields">
            <Field label="Amount">{formatAmount(o.amount, m)}</Field>
            <Field label="Fee">{formatAmount(o.fee, m)} {o.feeBps != null && `(${o.feeBps / 100} %)`}</Field>
            <Field label="Split: to seller">{formatAmount(o.sellerAmount, m)}</Field>
            <Field label="Split: to buyer">{formatAmount(o.buyerAmount, m)}</Field>
            <Field label="Paid to seller">{formatAmount(o.paidToSeller, m)}{o.sellerPayoutDue && ' (payout due)'}</Field>
            <Field label="Refunded to buyer">{formatAmount(o.refundedToBuyer, m)}{o.buyerRefundDue && ' (refund due)'}</Field>
          </dl>
        </section>
        <section aria-labelledby="parties-h">
          <h2 id="parties-h">Parties</h2>
          <dl className="fields">
            <Field label="Buyer"><AddressLink address={o.buyer.address} /> {o.buyer.displayName}</Field>
            <Field label="Seller"><AddressLink address={o.seller.address} /> {o.seller.displayName}</Field>
            <Field label="Created">{formatTime(o.createdAt)} {o.createdBlock != null && <BlockLink number={o.createdBlock} />}</Field>
            <Field label="Last change">{o.updatedBlock != null ? <BlockLink number={o.updatedBlock} /> : '—'}</Field>
            {o.deadline && <Field label="Deadline">{formatTime(new Date(Number(o.deadline) * 1000).toISOString())}</Field>}
          </dl>
        </section>
      </div>
      <section aria-labelledby="timeline-h">
        <h2 id="timeline-h">Timeline</h2>
        {o.events.length === 0 ? <Empty>Not on chain yet.</Empty> : (
          <ol className="timeline">
            {o.events.map((e) => (
              <li key={e.id}>
                <strong>{e.kind}</strong> <span className="muted">{formatTime(e.timestamp)}</span>
                <div className="small">block <BlockLink number={e.blockNumber} /> · tx <TxLink hash={e.transactionHash} /> · by <AddressLink address={e.sender} /></div>
                {e.anomaly && <div className="warn">Anomaly: {e.anomalyReason}</div>}
              </li>
            ))}
          </ol>
        )}
      </section>
      {o.dispute && (
        <section aria-labelledby="dispute-h">
          <h2 id="dispute-h">Dispute</h2>
          <dl className="fields">
            <Field label="Raised by"><AddressLink address={o.dispute.raisedBy} /> on {formatTime(o.dispute.raisedAt)}</Field>
            <Field label="Outcome">{o.dispute.resolved ? `${(o.dispute.buyerShareBps ?? 0) / 100} % to the buyer: ${formatAmount(o.dispute.buyerAmount, m)} buyer, ${formatAmount(o.dispute.sellerAmount, m)} seller, ${formatAmount(o.dispute.fee, m)} fee` : 'open'}</Field>
          </dl>
        </section>
      )}
      <section aria-labelledby="receipts-h">
        <h2 id="receipts-h">Payment and payouts</h2>
        <ul className="plain">
          {o.mpesaPayment && <li>M-Pesa payment {o.mpesaPayment.status}: {formatAmount(String(o.mpesaPayment.amountKes), 'MPESA')} {o.mpesaPayment.receipt && <>receipt <span className="mono">{o.mpesaPayment.receipt}</span></>} {formatTime(o.mpesaPayment.paidAt)}</li>}
          {o.paymentReceiptHash && <li>Receipt hash on chain <span className="mono break">{o.paymentReceiptHash}</span></li>}
          {o.mpesaPayouts.map((p) => (
            <li key={`${p.role}-${p.attempt}`}>M-Pesa {p.role === 'buyer' ? 'refund' : 'payout'} to the {p.role}: {formatAmount(String(p.amountKes), 'MPESA')}, {p.status} {p.receipt && <>receipt <span className="mono">{p.receipt}</span></>}</li>
          ))}
          {o.payouts.map((p) => (
            <li key={p.id}>{p.kind} to <AddressLink address={p.recipient} />: {formatAmount(p.amount, m)}{p.credited && ' (credited, to withdraw)'} · tx <TxLink hash={p.transactionHash} /> · block <BlockLink number={p.blockNumber} /></li>
          ))}
          {!o.mpesaPayment && !o.paymentReceiptHash && o.mpesaPayouts.length === 0 && o.payouts.length === 0 && <li>No payments or payouts yet.</li>}
        </ul>
      </section>
    </>
  );
}
