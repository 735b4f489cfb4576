/** Search by order id, transaction hash, block, address or M-Pesa receipt; one hit opens directly. */
import { useEffect } from 'react';
import { graphql } from '../gql';
import type { ConsoleSearchQuery } from '../gql/graphql';
import { useQuery } from '../useQuery';
import { navigate, Link } from '../router';
import { formatAmount, short } from '../format';
import { Empty, ErrorBox, Loading, Status } from '../ui/parts';

const SearchQuery = graphql(`
  query ConsoleSearch($text: String!) {
    search(text: $text) {
      __typename
      ... on Order { id status paymentMode amount }
      ... on Transaction { hash blockNumber }
      ... on Account { address buyerOrderCount sellerOrderCount }
      ... on Block { number hash }
    }
  }
`);

type Hit = ConsoleSearchQuery['search'][number];

export function hitPath(h: Hit): string {
  switch (h.__typename) {
    case 'Order': return `/order/${h.id}`;
    case 'Transaction': return `/tx/${h.hash}`;
    case 'Account': return `/account/${h.address}`;
    case 'Block': return `/block/${h.number}`;
  }
}

export function Search({ text }: { text: string }) {
  const { data, error, loading, reload } = useQuery(SearchQuery, { text }, { skip: !text.trim() });
  useEffect(() => {
    if (data?.search.length === 1) navigate(hitPath(data.search[0]!));
  }, [data]);
  if (!text.trim()) return <Empty>Type an order id, a transaction hash, a block, an address or an M-Pesa receipt.</Empty>;
  if (loading) return <Loading what="search results" />;
  if (error) return <ErrorBox error={error} retry={reload} />;
  return (
    <>
      <h1>Search: <span className="mono">{text}</span></h1>
      {!data?.search.length ? <Empty>Nothing found. Orders, transactions and blocks are found by their 0x… hash, accounts by address, M-Pesa orders by receipt (e.g. QK12AB34CD).</Empty> : (
        <ul className="hits">
          {data.search.map((h) => (
            <li key={hitPath(h)}>
              <Link to={hitPath(h)}>
                {h.__typename === 'Order' && <>Order {short(h.id)} <Status status={h.status} /> {formatAmount(h.amount, h.paymentMode)}</>}
                {h.__typename === 'Transaction' && <>Transaction {short(h.hash)} in block #{h.blockNumber}</>}
                {h.__typename === 'Account' && <>Account {h.address}: {h.buyerOrderCount} bought, {h.sellerOrderCount} sold</>}
                {h.__typename === 'Block' && <>Block #{h.number}</>}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
