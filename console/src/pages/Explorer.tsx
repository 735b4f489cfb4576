/**
 * The public explorer's front page: the newest blocks and escrow transactions, reloaded on
 * every step of the index the `indexAdvanced` subscription reports (and every 30 s should
 * the live connection drop).
 */
import { useEffect, useRef, useState } from 'react';
import { subscribe } from '../api';
import { graphql } from '../gql';
import { useQuery } from '../useQuery';
import { formatTime } from '../format';
import { AddressLink, BlockLink, Empty, ErrorBox, Loading, OrderLink, TxLink } from '../ui/parts';

const Latest = graphql(`
  query ConsoleLatest {
    latestBlocks(first: 10) { number hash timestamp transactions { hash } events { id } }
    contractEvents(first: 15) { nodes { id kind orderId transactionHash blockNumber sender timestamp } }
    indexStatus { lastProcessedHeight chainHead lagBlocks }
  }
`);

const Steps = graphql(`
  subscription ConsoleIndexSteps {
    indexAdvanced { lastProcessedHeight changedOrderIds }
  }
`);

export function Explorer() {
  const { data, error, loading, reload } = useQuery(Latest, {}, { pollMs: 30_000 });
  const [live, setLive] = useState(true);
  // One subscription for the page's life (reload is a new function on every render).
  const reloadLatest = useRef(reload);
  reloadLatest.current = reload;
  useEffect(() => subscribe(Steps, {}, () => {
    setLive(true);
    reloadLatest.current();
  }, () => setLive(false)), []);
  if (loading) return <Loading what="the latest blocks" />;
  if (error && !data) return <ErrorBox error={error} retry={reload} />;
  if (!data) return null;
  return (
    <>
      <h1>Explorer</h1>
      <p className="live" aria-live="off">
        <span className="dot" aria-hidden="true" /> Live: indexed to block {data.indexStatus.lastProcessedHeight}
        {data.indexStatus.lagBlocks ? ` (${data.indexStatus.lagBlocks} behind the chain)` : ''}
        {live ? ', updated as the index moves' : ', live updates interrupted: refreshed every 30 s'}
      </p>
      {error && <ErrorBox error={error} />}
      <div className="columns">
        <section aria-labelledby="blocks-h">
          <h2 id="blocks-h">Latest blocks with escrow activity</h2>
          {data.latestBlocks.length === 0 ? <Empty>No blocks indexed yet.</Empty> : (
            <table>
              <thead><tr><th scope="col">Block</th><th scope="col">Time</th><th scope="col">Txs</th><th scope="col">Events</th></tr></thead>
              <tbody>
                {data.latestBlocks.map((b) => (
                  <tr key={b.hash}>
                    <td><BlockLink number={b.number} /></td>
                    <td>{formatTime(b.timestamp)}</td>
                    <td>{b.transactions.length}</td>
                    <td>{b.events.length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section aria-labelledby="events-h">
          <h2 id="events-h">Latest escrow transactions</h2>
          {data.contractEvents.nodes.length === 0 ? <Empty>No escrow events yet.</Empty> : (
            <table>
              <thead><tr><th scope="col">Event</th><th scope="col">Order</th><th scope="col">Transaction</th><th scope="col">From</th><th scope="col">Block</th></tr></thead>
              <tbody>
                {data.contractEvents.nodes.map((e) => (
                  <tr key={e.id}>
                    <td>{e.kind}</td>
                    <td>{e.orderId ? <OrderLink id={e.orderId} /> : '—'}</td>
                    <td><TxLink hash={e.transactionHash} /></td>
                    <td><AddressLink address={e.sender} /></td>
                    <td><BlockLink number={e.blockNumber} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}
