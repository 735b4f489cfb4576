/** Explorer pages for a transaction, a block and an account, linked to each other and to orders. */
import { graphql } from '../gql';
import { useQuery } from '../useQuery';
import { formatAmount, formatDot, formatKes, formatTime } from '../format';
import { AddressLink, BlockLink, Empty, ErrorBox, Field, Loading, OrderLink, Status, TxLink } from '../ui/parts';

const TxQuery = graphql(`
  query ConsoleTransaction($hash: String!) {
    transaction(hash: $hash) { hash blockNumber blockHash index from to value events { id kind orderId logIndex args { name value } } }
  }
`);
const BlockQuery = graphql(`
  query ConsoleBlock($n: String!) {
    block(numberOrHash: $n) { number hash parentHash timestamp transactions { hash from to value } events { id kind orderId transactionHash } }
  }
`);
const AccountQuery = graphql(`
  query ConsoleAccount($address: String!) {
    account(address: $address) {
      address profile { displayName } buyerOrderCount sellerOrderCount boughtNative boughtKes soldNative soldKes receivedNative receivedKes firstSeenBlock lastSeenBlock
      orders(first: 50) { nodes { id status paymentMode amount createdAt buyer { address } seller { address } } }
    }
  }
`);

function EventList({ events }: { events: { id: string; kind: string; orderId?: string | null; args?: { name: string; value: string }[] }[] }) {
  if (!events.length) return <Empty>No escrow events.</Empty>;
  return (
    <ul className="plain">
      {events.map((e) => (
        <li key={e.id}><strong>{e.kind}</strong> {e.orderId && <>order <OrderLink id={e.orderId} /></>}
          {e.args && <span className="small muted"> {e.args.filter((a) => a.name !== 'orderId').map((a) => `${a.name}=${a.value}`).join(', ')}</span>}
        </li>
      ))}
    </ul>
  );
}

export function TxPage({ hash }: { hash: string }) {
  const { data, error, loading, reload } = useQuery(TxQuery, { hash });
  if (loading) return <Loading what="the transaction" />;
  if (error) return <ErrorBox error={error} retry={reload} />;
  const t = data?.transaction;
  if (!t) return <Empty>No escrow transaction {hash}.</Empty>;
  return (
    <>
      <h1>Transaction <span className="mono break">{t.hash}</span></h1>
      <dl className="fields">
        <Field label="Block"><BlockLink number={t.blockNumber} /> (position {t.index})</Field>
        <Field label="From"><AddressLink address={t.from} /></Field>
        <Field label="To">{t.to ? <AddressLink address={t.to} /> : '—'}</Field>
        <Field label="Value">{formatDot(t.value)}</Field>
      </dl>
      <h2>Events</h2>
      <EventList events={t.events} />
    </>
  );
}

export function BlockPage({ id }: { id: string }) {
  const { data, error, loading, reload } = useQuery(BlockQuery, { n: id });
  if (loading) return <Loading what="the block" />;
  if (error) return <ErrorBox error={error} retry={reload} />;
  const b = data?.block;
  if (!b) return <Empty>No indexed block {id}.</Empty>;
  return (
    <>
      <h1>Block #{b.number}</h1>
      <dl className="fields">
        <Field label="Hash"><span className="mono break">{b.hash}</span></Field>
        <Field label="Parent"><span className="mono break">{b.parentHash}</span> {b.number > 0 && <BlockLink number={b.number - 1} />}</Field>
        <Field label="Time">{formatTime(b.timestamp)}</Field>
      </dl>
      <h2>Escrow transactions</h2>
      {b.transactions.length === 0 ? <Empty>None.</Empty> : (
        <ul className="plain">
          {b.transactions.map((t) => <li key={t.hash}><TxLink hash={t.hash} /> from <AddressLink address={t.from} />, {formatDot(t.value)}</li>)}
        </ul>
      )}
      <h2>Events</h2>
      <EventList events={b.events} />
    </>
  );
}

export function AccountPage({ address }: { address: string }) {
  const { data, error, loading, reload } = useQuery(AccountQuery, { address });
  if (loading) return <Loading what="the account" />;
  if (error) return <ErrorBox error={error} retry={reload} />;
  const a = data?.account;
  if (!a) return <Empty>The escrow has never seen {address}.</Empty>;
  return (
    <>
      <h1>Account <span className="mono break">{a.address}</span></h1>
      {a.profile?.displayName && <p>{a.profile.displayName}</p>}
      <dl className="fields totals">
        <Field label="Orders as buyer">{a.buyerOrderCount}</Field>
        <Field label="Orders as seller">{a.sellerOrderCount}</Field>
        <Field label="Bought">{formatDot(a.boughtNative)} · {formatKes(a.boughtKes)}</Field>
        <Field label="Sold">{formatDot(a.soldNative)} · {formatKes(a.soldKes)}</Field>
        <Field label="Received">{formatDot(a.receivedNative)} · {formatKes(a.receivedKes)}</Field>
        <Field label="Active">blocks <BlockLink number={a.firstSeenBlock} /> to <BlockLink number={a.lastSeenBlock} /></Field>
      </dl>
      <h2>Orders</h2>
      {a.orders.nodes.length === 0 ? <Empty>No orders.</Empty> : (
        <div className="scroll"><table>
          <thead><tr><th scope="col">Order</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Amount</th><th scope="col">Created</th></tr></thead>
          <tbody>
            {a.orders.nodes.map((o) => (
              <tr key={o.id}>
                <td><OrderLink id={o.id} /></td>
                <td>{o.buyer.address === a.address ? 'buyer' : 'seller'}</td>
                <td><Status status={o.status} /></td>
                <td>{formatAmount(o.amount, o.paymentMode)}</td>
                <td>{formatTime(o.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
    </>
  );
}
