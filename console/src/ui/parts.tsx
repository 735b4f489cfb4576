/** Small shared pieces: states, links between explorer pages, status badges. */
import type { ReactNode } from 'react';
import { Link } from '../router';
import { short } from '../format';

export function Loading({ what }: { what: string }) {
  return <p className="state" role="status" aria-live="polite">Loading {what}…</p>;
}

export function ErrorBox({ error, retry }: { error: string; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <p>Could not load: {error}</p>
      {retry && <button type="button" onClick={retry}>Try again</button>}
    </div>
  );
}

export const Empty = ({ children }: { children: ReactNode }) => <p className="state empty">{children}</p>;

export const AddressLink = ({ address }: { address: string }) => (
  <Link to={`/account/${address}`} className="mono" title={address}>{short(address, 4)}</Link>
);
export const TxLink = ({ hash }: { hash: string }) => <Link to={`/tx/${hash}`} className="mono" title={hash}>{short(hash)}</Link>;
export const BlockLink = ({ number }: { number: number }) => <Link to={`/block/${number}`}>#{number}</Link>;
export const OrderLink = ({ id }: { id: string }) => <Link to={`/order/${id}`} className="mono" title={id}>{short(id)}</Link>;

export const Status = ({ status }: { status: string }) => <span className={`badge status-${status.toLowerCase()}`}>{status}</span>;

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
