/**
 * Checks of the index against the chain, shared by the integration tests and the
 * benchmark: every Order against getOrder/payoutSplit, OrderEvent rows against logs.
 */
import type { Pool } from '@descrow/common';
import { contractLogs, readOrders, type ChainOrder, type DevChain } from './chain';

export interface IndexUnderTest {
  chain: DevChain;
  pool: Pool;
  schema: string;
}

/** SQL for "the version of each row valid at `height`" (current rows when undefined). */
export function at(height?: number): string {
  return height === undefined ? 'upper_inf(_block_range)' : `_block_range @> ${Math.floor(height)}::bigint`;
}

type Row = Record<string, unknown>;

/**
 * Indexed orders at `height`, each with the deadline in force then: its clock deadline plus
 * the seconds the contract had been paused (the Contract row), as getOrder computes it.
 */
export async function indexedOrders(pool: Pool, schema: string, height?: number): Promise<Map<string, Row>> {
  const { rows } = await pool.query<Row>(`SELECT * FROM "${schema}".orders WHERE ${at(height)}`);
  const { rows: contract } = await pool.query<{ paused_seconds: string }>(`SELECT paused_seconds FROM "${schema}".contracts WHERE ${at(height)}`);
  const paused = BigInt(contract[0]?.paused_seconds ?? 0);
  return new Map(rows.map((r) => [String(r.id), { ...r, deadline_in_force: BigInt(r.clock_deadline as string) + paused }]));
}

const secs = (d: unknown) => (d instanceof Date ? Math.floor(d.getTime() / 1000) : 0);

/** The indexed order in the contract view's terms (what getOrder + payoutSplit return). */
export function asChainView(r: Row): ChainOrder {
  return {
    id: String(r.id),
    buyer: String(r.buyer_id),
    seller: String(r.seller_id),
    amount: BigInt(r.amount as string),
    paymentMode: String(r.payment_mode),
    status: String(r.status),
    feeBps: Number(r.fee_bps),
    buyerShareBps: Number(r.buyer_share_bps),
    createdAt: secs(r.created_at),
    fundedAt: secs(r.funded_at),
    shippedAt: secs(r.shipped_at),
    // Unset deadlines stay 0 (getOrder answers 0 for an order never funded).
    deadline: BigInt(r.clock_deadline as string) === 0n ? 0n : (r.deadline_in_force as bigint),
    shippingWindow: Number(r.shipping_window),
    confirmationWindow: Number(r.confirmation_window),
    paymentReceipt: (r.payment_receipt as string | null) ?? null,
    sellerPayoutDue: Boolean(r.seller_payout_due),
    buyerRefundDue: Boolean(r.buyer_refund_due),
    buyerAmount: BigInt(r.buyer_amount as string),
    sellerAmount: BigInt(r.seller_amount as string),
    fee: BigInt(r.fee as string),
  };
}

/** Orders whose index differs from the chain, with the first differing fields (empty = equal). */
export function differences(chain: Map<string, ChainOrder>, index: Map<string, Row>): string[] {
  const out: string[] = [];
  for (const [id, truth] of chain) {
    const row = index.get(id);
    if (!row) {
      out.push(`${id}: on chain (${truth.status}) but not indexed`);
      continue;
    }
    const mine = asChainView(row);
    const fields = (Object.keys(truth) as (keyof ChainOrder)[]).filter((k) => mine[k] !== truth[k]);
    if (fields.length) out.push(`${id}: ${fields.map((f) => `${f} index=${String(mine[f])} chain=${String(truth[f])}`).join(', ')}`);
  }
  for (const id of index.keys()) if (!chain.has(id)) out.push(`${id}: indexed but not on chain`);
  return out;
}

/** Compare every order and the event count with the chain as of `height` (default: head). */
export async function compareWithChain(rig: IndexUnderTest, ids: string[], height?: number): Promise<{ orders: number; logs: number; events: number; diffs: string[] }> {
  const truth = await readOrders(rig.chain, ids, height ?? 'latest');
  const index = await indexedOrders(rig.pool, rig.schema, height);
  const logs = await contractLogs(rig.chain, height);
  const { rows } = await rig.pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${rig.schema}".order_events WHERE ${at(height)}`);
  return { orders: truth.size, logs: logs.length, events: Number(rows[0]!.n), diffs: differences(truth, index) };
}
