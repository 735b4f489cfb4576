/**
 * Reads the SubQuery index (read-only). The node runs in historical mode: every row has
 * `_block_range`, and the current version of an entity is the one whose range is
 * unbounded (`upper_inf(_block_range)`). Column names are the entity fields snake-cased.
 * Every method takes many ids, so DataLoader can batch.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';

export interface IndexOrder {
  id: string; buyer: string; seller: string; amount: string; currency: string; paymentMode: 'NATIVE' | 'MPESA'; status: string;
  feeBps: number; buyerShareBps: number; buyerAmount: string; sellerAmount: string; fee: string; feeCharged: string;
  paidToSeller: string; refundedToBuyer: string; credited: string; deadline: string; clockDeadline: string;
  shippingWindow: number; confirmationWindow: number; sellerPayoutDue: boolean; buyerRefundDue: boolean;
  metadataCid: string; trackingCid: string | null; evidenceCid: string | null; paymentReceipt: string | null;
  sellerPayoutReceipt: string | null; buyerRefundReceipt: string | null; disputeId: string | null;
  createdBlock: number; createdAt: Date; fundedAt: Date | null; shippedAt: Date | null; deliveredAt: Date | null; completedAt: Date | null;
  resolvedAt: Date | null; refundedAt: Date | null; cancelledAt: Date | null; updatedBlock: number; updatedAt: Date; eventCount: number;
}
export interface IndexEvent {
  id: string; kind: string; orderId: string | null; args: Record<string, string> | { name: string; value: string }[]; blockNumber: number; blockHash: string;
  timestamp: Date; transactionHash: string; logIndex: number; sender: string; anomaly: boolean; anomalyReason: string | null;
}
export interface IndexPayout {
  id: string; orderId: string; recipient: string; kind: string; paymentMode: string; amount: string; receiptHash: string | null;
  credited: boolean; blockNumber: number; timestamp: Date; transactionHash: string;
}
export interface IndexDispute {
  id: string; raisedBy: string; evidenceCid: string; raisedAt: Date; resolved: boolean; buyerShareBps: number | null;
  buyerAmount: string | null; sellerAmount: string | null; fee: string | null; resolvedAt: Date | null;
}
/** The contract's pause state: deadlines on its clock are moved on by every second paused. */
export interface ContractClock { paused: boolean; pausedSince: Date | null; pausedSeconds: string }

/**
 * The deadline in force (unix seconds) of an order: its clock deadline plus every second
 * the contract has been paused since (the current pause too), as Escrow.getOrder computes it.
 */
export function deadlineInForce(o: Pick<IndexOrder, 'clockDeadline'>, clock: ContractClock, nowMs = Date.now()): string | null {
  const clockDeadline = BigInt(o.clockDeadline);
  if (clockDeadline === 0n) return null;
  const current = clock.paused && clock.pausedSince ? BigInt(Math.max(0, Math.floor((nowMs - clock.pausedSince.getTime()) / 1000))) : 0n;
  return (clockDeadline + BigInt(clock.pausedSeconds) + current).toString();
}

export interface IndexBlock { hash: string; number: number; parentHash: string; timestamp: Date }
export interface IndexTransaction { hash: string; blockHash: string; blockNumber: number; index: number; from: string; to: string | null; value: string }
export interface IndexAccount {
  address: string; buyerOrderCount: number; sellerOrderCount: number; boughtNative: string; boughtKes: string; soldNative: string;
  soldKes: string; receivedNative: string; receivedKes: string; firstSeenBlock: number; lastSeenBlock: number;
}
export interface IndexDailyStat {
  date: string; paymentMode: 'NATIVE' | 'MPESA'; volumeFunded: string; fees: string; paidOut: string; refunded: string; heldInEscrow: string;
}

export interface OrderListFilter {
  buyer?: string; seller?: string; party?: string; statuses?: string[]; paymentMode?: string; createdFrom?: Date; createdTo?: Date;
}
export interface EventListFilter { kind?: string; orderId?: string; sender?: string; fromBlock?: number; toBlock?: number }

const ORDER_COLS = `id, buyer_id AS buyer, seller_id AS seller, amount, currency, payment_mode AS "paymentMode", status,
  fee_bps AS "feeBps", buyer_share_bps AS "buyerShareBps", buyer_amount AS "buyerAmount", seller_amount AS "sellerAmount", fee,
  fee_charged AS "feeCharged", paid_to_seller AS "paidToSeller", refunded_to_buyer AS "refundedToBuyer", credited, deadline,
  clock_deadline AS "clockDeadline", shipping_window AS "shippingWindow", confirmation_window AS "confirmationWindow",
  seller_payout_due AS "sellerPayoutDue", buyer_refund_due AS "buyerRefundDue", metadata_cid AS "metadataCid",
  tracking_cid AS "trackingCid", evidence_cid AS "evidenceCid", payment_receipt AS "paymentReceipt",
  seller_payout_receipt AS "sellerPayoutReceipt", buyer_refund_receipt AS "buyerRefundReceipt", dispute_id AS "disputeId",
  created_block AS "createdBlock", created_at AS "createdAt", funded_at AS "fundedAt", shipped_at AS "shippedAt",
  delivered_at AS "deliveredAt", completed_at AS "completedAt", resolved_at AS "resolvedAt", refunded_at AS "refundedAt",
  cancelled_at AS "cancelledAt", updated_block AS "updatedBlock", updated_at AS "updatedAt", event_count AS "eventCount"`;
const EVENT_COLS = `id, kind, order_id AS "orderId", args, block_number AS "blockNumber", block_hash AS "blockHash", timestamp,
  transaction_hash AS "transactionHash", log_index AS "logIndex", sender, anomaly, anomaly_reason AS "anomalyReason"`;
const PAYOUT_COLS = `id, order_id AS "orderId", recipient_id AS recipient, kind, payment_mode AS "paymentMode", amount,
  receipt_hash AS "receiptHash", credited, block_number AS "blockNumber", timestamp, transaction_hash AS "transactionHash"`;
const DISPUTE_COLS = `id, raised_by AS "raisedBy", evidence_cid AS "evidenceCid", raised_at AS "raisedAt", resolved,
  buyer_share_bps AS "buyerShareBps", buyer_amount AS "buyerAmount", seller_amount AS "sellerAmount", fee, resolved_at AS "resolvedAt"`;
const BLOCK_COLS = `id AS hash, number, parent_hash AS "parentHash", timestamp`;
const TX_COLS = `id AS hash, block_id AS "blockHash", block_number AS "blockNumber", index, "from", "to", value`;
const ACCOUNT_COLS = `id AS address, buyer_order_count AS "buyerOrderCount", seller_order_count AS "sellerOrderCount",
  bought_native AS "boughtNative", bought_kes AS "boughtKes", sold_native AS "soldNative", sold_kes AS "soldKes",
  received_native AS "receivedNative", received_kes AS "receivedKes", first_seen_block AS "firstSeenBlock", last_seen_block AS "lastSeenBlock"`;

export class IndexReader {
  constructor(private readonly pool: Pool, private readonly schema: string) {}

  private t(table: string): string {
    return `"${this.schema}".${table}`;
  }

  /**
   * Every statement runs as a named prepared statement (named after its text, so each
   * distinct text is prepared once per connection): Postgres parses and plans it once, not
   * on every request.
   */
  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    let name = this.names.get(sql);
    if (!name) this.names.set(sql, (name = `idx_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`));
    return (await this.pool.query({ name, text: sql, values: params })).rows as T[];
  }
  private readonly names = new Map<string, string>();

  /** The contract's pause state (not paused, nothing paused, before the index has its first block). */
  async contractClock(): Promise<ContractClock> {
    const [row] = await this.rows<ContractClock>(
      `SELECT paused, paused_since AS "pausedSince", paused_seconds AS "pausedSeconds" FROM ${this.t('contracts')} WHERE upper_inf(_block_range) LIMIT 1`,
    );
    return row ?? { paused: false, pausedSince: null, pausedSeconds: '0' };
  }

  /** Native payouts credited to `address` (pushes it refused) minus what it has withdrawn. */
  async creditsOwed(address: string): Promise<bigint> {
    const [row] = await this.rows<{ owed: string }>(
      `SELECT (SELECT COALESCE(sum(amount), 0) FROM ${this.t('payouts')} WHERE recipient_id = $1 AND credited AND upper_inf(_block_range))
            - (SELECT COALESCE(sum((args->>'amount')::numeric), 0) FROM ${this.t('order_events')}
                WHERE kind = 'Withdrawn' AND args->>'account' = $1 AND upper_inf(_block_range)) AS owed`,
      [address],
    );
    return BigInt(row?.owed ?? 0);
  }

  ordersByIds(ids: readonly string[]): Promise<IndexOrder[]> {
    return this.rows(`SELECT ${ORDER_COLS} FROM ${this.t('orders')} WHERE id = ANY($1) AND upper_inf(_block_range)`, [ids]);
  }

  /** Newest first; the cursor is (createdBlock, id) of the last row seen. */
  listOrders(f: OrderListFilter, limit: number, after?: { block: number; id: string }): Promise<IndexOrder[]> {
    const where = ['upper_inf(_block_range)'];
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    if (f.buyer) where.push(`buyer_id = ${p(f.buyer)}`);
    if (f.seller) where.push(`seller_id = ${p(f.seller)}`);
    if (f.party) {
      const x = p(f.party);
      where.push(`(buyer_id = ${x} OR seller_id = ${x})`);
    }
    if (f.statuses?.length) where.push(`status::text = ANY(${p(f.statuses)}::text[])`);
    if (f.paymentMode) where.push(`payment_mode::text = ${p(f.paymentMode)}`);
    if (f.createdFrom) where.push(`created_at >= ${p(f.createdFrom.toISOString().slice(0, 23))}::timestamp`);
    if (f.createdTo) where.push(`created_at < ${p(f.createdTo.toISOString().slice(0, 23))}::timestamp`);
    if (after) where.push(`(created_block, id) < (${p(after.block)}, ${p(after.id)})`);
    return this.rows(
      `SELECT ${ORDER_COLS} FROM ${this.t('orders')} WHERE ${where.join(' AND ')} ORDER BY created_block DESC, id DESC LIMIT ${p(limit)}`,
      params,
    );
  }

  /** One order and its event history in one statement (the common `order(id) { … events }` read). */
  async orderWithEvents(id: string): Promise<{ order: IndexOrder; events: IndexEvent[] } | null> {
    const [row] = await this.rows<IndexOrder & { eventRows: (Omit<IndexEvent, 'timestamp'> & { timestamp: string })[] }>(
      `SELECT ${ORDER_COLS},
              COALESCE((SELECT json_agg(e ORDER BY e."blockNumber", e."logIndex")
                          FROM (SELECT ${EVENT_COLS} FROM ${this.t('order_events')} WHERE order_id = $1 AND upper_inf(_block_range)) e), '[]') AS "eventRows"
         FROM ${this.t('orders')} WHERE id = $1 AND upper_inf(_block_range)`,
      [id],
    );
    if (!row) return null;
    const { eventRows, ...order } = row;
    // json_agg writes timestamps without a zone; they are UTC like every other index timestamp.
    return { order: order as IndexOrder, events: eventRows.map((e) => ({ ...e, timestamp: new Date(`${e.timestamp}Z`) })) };
  }

  eventsByOrderIds(ids: readonly string[]): Promise<IndexEvent[]> {
    return this.rows(
      `SELECT ${EVENT_COLS} FROM ${this.t('order_events')} WHERE order_id = ANY($1) AND upper_inf(_block_range) ORDER BY block_number, log_index`,
      [ids],
    );
  }

  eventsByTxHashes(hashes: readonly string[]): Promise<IndexEvent[]> {
    return this.rows(
      `SELECT ${EVENT_COLS} FROM ${this.t('order_events')} WHERE transaction_id = ANY($1) AND upper_inf(_block_range) ORDER BY block_number, log_index`,
      [hashes],
    );
  }

  eventsByBlockHashes(hashes: readonly string[]): Promise<IndexEvent[]> {
    return this.rows(
      `SELECT ${EVENT_COLS} FROM ${this.t('order_events')} WHERE block_id = ANY($1) AND upper_inf(_block_range) ORDER BY block_number, log_index`,
      [hashes],
    );
  }

  /** Newest first; the cursor is (blockNumber, logIndex). */
  listEvents(f: EventListFilter, limit: number, after?: { block: number; logIndex: number }): Promise<IndexEvent[]> {
    const where = ['upper_inf(_block_range)'];
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    if (f.kind) where.push(`kind = ${p(f.kind)}`);
    if (f.orderId) where.push(`order_id = ${p(f.orderId)}`);
    if (f.sender) where.push(`sender = ${p(f.sender)}`);
    if (f.fromBlock !== undefined) where.push(`block_number >= ${p(f.fromBlock)}`);
    if (f.toBlock !== undefined) where.push(`block_number <= ${p(f.toBlock)}`);
    if (after) where.push(`(block_number, log_index) < (${p(after.block)}, ${p(after.logIndex)})`);
    return this.rows(
      `SELECT ${EVENT_COLS} FROM ${this.t('order_events')} WHERE ${where.join(' AND ')} ORDER BY block_number DESC, log_index DESC LIMIT ${p(limit)}`,
      params,
    );
  }

  payoutsByOrderIds(ids: readonly string[]): Promise<IndexPayout[]> {
    return this.rows(`SELECT ${PAYOUT_COLS} FROM ${this.t('payouts')} WHERE order_id = ANY($1) AND upper_inf(_block_range) ORDER BY block_number, id`, [ids]);
  }

  /** Disputes, open ones first (oldest first: the queue), then resolved (newest first). Cursor: the position. */
  listDisputes(open: boolean | undefined, limit: number, offset: number): Promise<(IndexDispute & { orderId: string })[]> {
    const where = ['upper_inf(_block_range)'];
    if (open !== undefined) where.push(open ? 'NOT resolved' : 'resolved');
    return this.rows(
      `SELECT ${DISPUTE_COLS}, order_id AS "orderId" FROM ${this.t('disputes')} WHERE ${where.join(' AND ')}
        ORDER BY resolved, CASE WHEN resolved THEN -extract(epoch FROM resolved_at) ELSE extract(epoch FROM raised_at) END, id
        LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
  }

  /** Per UTC day: disputes raised and resolved, and the median seconds from creation to completion. */
  async dayFigures(from: Date, to: Date): Promise<{ day: string; disputesOpened: number; disputesResolved: number; completed: number; medianSecondsToComplete: number | null }[]> {
    const rows = await this.rows<{ day: string; opened: string; resolved: string; completed: string; median: number | null }>(
      `WITH days AS (SELECT generate_series($1::date, ($2::timestamp - interval '1 microsecond')::date, interval '1 day')::date AS day),
            opened AS (SELECT raised_at::date AS day, count(*) AS n FROM ${this.t('disputes')}
                        WHERE upper_inf(_block_range) AND raised_at >= $1::timestamp AND raised_at < $2::timestamp GROUP BY 1),
            resolved AS (SELECT resolved_at::date AS day, count(*) AS n FROM ${this.t('disputes')}
                          WHERE upper_inf(_block_range) AND resolved AND resolved_at >= $1::timestamp AND resolved_at < $2::timestamp GROUP BY 1),
            completed AS (SELECT completed_at::date AS day, count(*) AS n,
                                 percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)) AS median
                            FROM ${this.t('orders')}
                           WHERE upper_inf(_block_range) AND completed_at >= $1::timestamp AND completed_at < $2::timestamp GROUP BY 1)
       SELECT to_char(d.day, 'YYYY-MM-DD') AS day, COALESCE(o.n, 0) AS opened, COALESCE(r.n, 0) AS resolved, COALESCE(c.n, 0) AS completed, c.median
         FROM days d LEFT JOIN opened o USING (day) LEFT JOIN resolved r USING (day) LEFT JOIN completed c USING (day) ORDER BY d.day`,
      [iso(from), iso(to)],
    );
    return rows.map((r) => ({ day: r.day, disputesOpened: Number(r.opened), disputesResolved: Number(r.resolved), completed: Number(r.completed), medianSecondsToComplete: r.median === null ? null : Math.round(Number(r.median)) }));
  }

  /** The median seconds from creation to completion over every order completed in the range. */
  async medianSecondsToComplete(from: Date, to: Date): Promise<number | null> {
    const [row] = await this.rows<{ median: number | null }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)) AS median
         FROM ${this.t('orders')} WHERE upper_inf(_block_range) AND completed_at >= $1::timestamp AND completed_at < $2::timestamp`,
      [iso(from), iso(to)],
    );
    return row?.median == null ? null : Math.round(Number(row.median));
  }

  disputesByIds(ids: readonly string[]): Promise<IndexDispute[]> {
    return this.rows(`SELECT ${DISPUTE_COLS} FROM ${this.t('disputes')} WHERE id = ANY($1) AND upper_inf(_block_range)`, [ids]);
  }

  latestBlocks(limit: number): Promise<IndexBlock[]> {
    return this.rows(`SELECT ${BLOCK_COLS} FROM ${this.t('blocks')} WHERE upper_inf(_block_range) ORDER BY number DESC LIMIT $1`, [limit]);
  }

  blocksByHashes(hashes: readonly string[]): Promise<IndexBlock[]> {
    return this.rows(`SELECT ${BLOCK_COLS} FROM ${this.t('blocks')} WHERE id = ANY($1) AND upper_inf(_block_range)`, [hashes]);
  }

  async blockByNumber(n: number): Promise<IndexBlock | null> {
    return (await this.rows<IndexBlock>(`SELECT ${BLOCK_COLS} FROM ${this.t('blocks')} WHERE number = $1 AND upper_inf(_block_range) LIMIT 1`, [n]))[0] ?? null;
  }

  transactionsByHashes(hashes: readonly string[]): Promise<IndexTransaction[]> {
    return this.rows(`SELECT ${TX_COLS} FROM ${this.t('transactions')} WHERE id = ANY($1) AND upper_inf(_block_range)`, [hashes]);
  }

  transactionsByBlockHashes(hashes: readonly string[]): Promise<IndexTransaction[]> {
    return this.rows(`SELECT ${TX_COLS} FROM ${this.t('transactions')} WHERE block_id = ANY($1) AND upper_inf(_block_range) ORDER BY index`, [hashes]);
  }

  accountsByIds(ids: readonly string[]): Promise<IndexAccount[]> {
    return this.rows(`SELECT ${ACCOUNT_COLS} FROM ${this.t('accounts')} WHERE id = ANY($1) AND upper_inf(_block_range)`, [ids]);
  }

  /** Orders whose funding receipt or a payout receipt has this hash. */
  ordersByReceiptHash(hash: string): Promise<IndexOrder[]> {
    return this.rows(
      `SELECT ${ORDER_COLS} FROM ${this.t('orders')} WHERE upper_inf(_block_range)
         AND (payment_receipt = $1 OR seller_payout_receipt = $1 OR buyer_refund_receipt = $1)`,
      [hash],
    );
  }

  /** M-Pesa orders funded in [from, to). */
  mpesaOrdersFunded(from: Date, to: Date): Promise<IndexOrder[]> {
    return this.rows(
      `SELECT ${ORDER_COLS} FROM ${this.t('orders')} WHERE upper_inf(_block_range) AND payment_mode::text = 'MPESA'
         AND funded_at >= $1::timestamp AND funded_at < $2::timestamp`,
      [iso(from), iso(to)],
    );
  }

  /** M-Pesa orders that owe a payout now. */
  mpesaOrdersOwingPayout(): Promise<IndexOrder[]> {
    return this.rows(
      `SELECT ${ORDER_COLS} FROM ${this.t('orders')} WHERE upper_inf(_block_range) AND payment_mode::text = 'MPESA'
         AND (seller_payout_due OR buyer_refund_due)`,
    );
  }

  /** Daily rollups with dates in [fromDate, toDate] plus the day before (for opening balances). */
  dailyStats(fromDate: string, toDate: string): Promise<(IndexDailyStat & { previousHeld: string | null })[]> {
    return this.rows(
      `SELECT d.date, d.payment_mode AS "paymentMode", d.volume_funded AS "volumeFunded", d.fees, d.paid_out AS "paidOut", d.refunded,
              d.held_in_escrow AS "heldInEscrow",
              (SELECT p.held_in_escrow FROM ${this.t('daily_mode_stats')} p
                WHERE upper_inf(p._block_range) AND p.payment_mode = d.payment_mode AND p.date < d.date ORDER BY p.date DESC LIMIT 1) AS "previousHeld"
         FROM ${this.t('daily_mode_stats')} d
        WHERE upper_inf(d._block_range) AND d.date >= $1 AND d.date <= $2 ORDER BY d.date, d.payment_mode`,
      [fromDate, toDate],
    );
  }

  async metadata(): Promise<{ lastProcessedHeight: number; targetHeight: number | null }> {
    const rows = await this.rows<{ key: string; value: unknown }>(
      `SELECT key, value FROM ${this.t('_metadata')} WHERE key IN ('lastProcessedHeight', 'targetHeight')`,
    );
    const get = (k: string) => rows.find((r) => r.key === k)?.value;
    return { lastProcessedHeight: Number(get('lastProcessedHeight') ?? -1), targetHeight: get('targetHeight') === undefined ? null : Number(get('targetHeight')) };
  }

  /** Orders whose current version started after `height` (changed since), for the subscription watcher. */
  ordersChangedSince(height: number): Promise<{ id: string; status: string; updatedBlock: number }[]> {
    return this.rows(
      `SELECT id, status, updated_block AS "updatedBlock" FROM ${this.t('orders')} WHERE upper_inf(_block_range) AND lower(_block_range) > $1`,
      [height],
    );
  }
}

const iso = (d: Date) => d.toISOString().slice(0, 23);
