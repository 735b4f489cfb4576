/**
 * The one place handlers touch the store: keep every log as an OrderEvent, apply order
 * events through the pure state machine, and update the explorer entities and rollups.
 *
 * Speed (see docs/benchmarks.md): every store call from the sandbox costs far more than
 * the work it does, so this module makes few of them.
 * - State that handlers read (orders, accounts, totals, days, disputes) is kept in
 *   memory after the first read or write, so reads rarely reach the store.
 * - Writes of one block are collected and handed to the store once, in bulk, when the
 *   block's last log of this contract has been handled (the node runs handlers in log
 *   order; `log.block.logs` says which log is last). Entities touched several times in a
 *   block are written once.
 * - The store rolls back on a rewind (reorg), so at the start of a block the in-memory
 *   state is checked against it (the last block we wrote must still be there) and dropped
 *   if the store went back. `Contract` (one row, written with the first block) tells an
 *   empty index apart: then every order is known in memory, and OrderCreated reads nothing.
 *
 * This assumes one sandbox handling blocks in order, i.e. the node runs without --workers.
 */
import type { EthereumLog } from '@subql/types-ethereum';
import {
  applyOrderEvent,
  toDate,
  utcDay,
  type AccountDelta,
  type Mode,
  type OrderEventData,
  type OrderRecord,
  type RollupDelta,
} from '../state/order';
import type { EventArgs } from '../types';
import type { AccountProps } from '../types/models/Account';
import type { BlockProps } from '../types/models/Block';
import type { ContractProps } from '../types/models/Contract';
import type { DailyModeStatProps } from '../types/models/DailyModeStat';
import type { DisputeProps } from '../types/models/Dispute';
import type { ModeTotalProps } from '../types/models/ModeTotal';
import type { OrderEventProps } from '../types/models/OrderEvent';
import type { OrderProps } from '../types/models/Order';
import type { PayoutProps } from '../types/models/Payout';
import type { TransactionProps } from '../types/models/Transaction';

/** Entity props with generated string enums widened to string (the pure module uses literals). */
type Loose<T> = { [K in keyof T]: T[K] extends string ? string : T[K] extends string | undefined ? string | undefined : T[K] };
/** Compile-time proof that the pure OrderRecord is exactly the Order entity. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const orderShapeMatches: Same<Loose<OrderRecord>, Loose<OrderProps>> = true;
void orderShapeMatches;

type Row<T> = Loose<T> & { id: string };
type AccountRow = Row<AccountProps>;
type TotalRow = Row<ModeTotalProps>;
type DayRow = Row<DailyModeStatProps>;
type DisputeRow = Row<DisputeProps>;
type ContractRow = Row<ContractProps>;

/** A store record without the store's own fields. */
function plain<T>(raw: unknown): T | undefined {
  if (!raw) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) if (!k.startsWith('_') && typeof v !== 'function') out[k] = v;
  return out as T;
}

async function load<T>(entity: string, id: string): Promise<T | undefined> {
  return plain<T>(await store.get(entity, id));
}

// ------------------------------------------------------------ in-memory state

/** Orders kept in memory (most recently touched); older ones are read back on demand. */
const ORDER_CACHE_LIMIT = 50_000;

class Memory {
  orders = new Map<string, OrderRecord>();
  /** Ids of every order ever created, valid only while `knowsAllOrders`. */
  orderIds = new Set<string>();
  knowsAllOrders = false;
  accounts = new Map<string, AccountRow>();
  totals = new Map<string, TotalRow>();
  days = new Map<string, DayRow>();
  disputes = new Map<string, DisputeRow>();
  /** The last block written, to tell whether the store went back since (see openBlock). */
  lastBlock: { number: number; hash: string } | undefined;
  /** The Contract row, written once with the first block of an empty index. */
  newContract: ContractRow | undefined;
}

let mem = new Memory();
/** The block being handled and what it will write. */
let batch: Batch | undefined;

interface Batch {
  number: number;
  hash: string;
  /** Block timestamp (unix seconds) and as a Date. */
  timestamp: bigint;
  date: Date;
  lastLogIndex: number;
  block: Row<BlockProps>;
  txs: Map<string, Row<TransactionProps>>;
  events: Row<OrderEventProps>[];
  payouts: Row<PayoutProps>[];
  orders: Set<string>;
  accounts: Set<string>;
  totals: Set<string>;
  days: Set<string>;
  disputes: Set<string>;
}

/** Start a block: check the store did not go back (rewind) since our last block, then open a batch. */
async function openBlock(log: EthereumLog): Promise<Batch> {
  if (batch && batch.hash !== log.blockHash) {
    // The previous block's last log never came (cannot happen while every event has a
    // handler): write it now rather than lose it.
    logger.warn(`block ${batch.number} ended without its last log ${batch.lastLogIndex}; writing it late`);
    await flush(batch);
  }
  const address = log.address.toLowerCase();
  const number = log.blockNumber;
  const hash = log.blockHash;
  const block = log.block;
  const parentHash = block.parentHash;
  const timestamp = block.timestamp;
  // One Date per block, shared by every row of the block (fewer objects to cross the bridge).
  const date = toDate(timestamp);
  const prev = mem.lastBlock;
  // In-memory state is valid only if the store still holds the last block we wrote: a
  // rewind (reorg) removes it, and makes the node index a height we already did again.
  // The direct child of that block cannot follow a rewind; anything else is checked.
  let valid = prev !== undefined && number > prev.number;
  if (valid && !(number === prev!.number + 1 && parentHash === prev!.hash)) valid = (await store.get('Block', prev!.hash)) !== undefined;
  if (!valid) {
    if (prev) logger.warn(`index went back before block ${prev.number} (rewind): dropping in-memory state`);
    mem = new Memory();
    const known = await load<ContractRow>('Contract', address);
    // Nothing indexed yet: from here on, every order is seen being created.
    mem.knowsAllOrders = !known;
    if (!known) mem.newContract = { id: address, firstBlock: number, firstBlockHash: hash, firstTimestamp: date };
  }
  let last = log.logIndex;
  const logs = block.logs ?? [];
  if (logs.length > 1) for (const l of logs) if (l.logIndex > last && l.address.toLowerCase() === address) last = l.logIndex;
  return {
    number,
    hash,
    timestamp,
    date,
    lastLogIndex: last,
    block: { id: hash, number, parentHash, timestamp: date },
    txs: new Map(),
    events: [],
    payouts: [],
    orders: new Set(),
    accounts: new Set(),
    totals: new Set(),
    days: new Set(),
    disputes: new Set(),
  };
}

/**
 * Hand rows of one entity type to the store. Every object that crosses into the node
 * becomes a proxy the node walks key by key (it deep-clones what it is given), so:
 * one row goes through `set` (no array to iterate through the bridge), and keys whose
 * value is undefined are left out (they are stored as NULL either way).
 */
async function put(entity: string, rows: { id: string }[]): Promise<void> {
  if (rows.length === 1) await store.set(entity, rows[0]!.id, compact(rows[0]!) as never);
  else if (rows.length) await store.bulkUpdate(entity, rows.map(compact) as never[]);
}

function compact<T extends object>(row: T): T {
  const out: Record<string, unknown> = {};
  for (const k in row) if (row[k] !== undefined) out[k] = row[k];
  return out as T;
}

async function flush(b: Batch): Promise<void> {
  batch = undefined;
  mem.lastBlock = { number: b.number, hash: b.hash };
  const pick = <T>(ids: Set<string>, from: Map<string, T>) => [...ids].map((id) => from.get(id)!);
  await put('Block', [b.block]);
  await put('Transaction', [...b.txs.values()]);
  await put('OrderEvent', b.events);
  await put('Order', pick(b.orders, mem.orders));
  await put('Payout', b.payouts);
  await put('Dispute', pick(b.disputes, mem.disputes));
  await put('Account', pick(b.accounts, mem.accounts));
  await put('ModeTotal', pick(b.totals, mem.totals));
  await put('DailyModeStat', pick(b.days, mem.days));
  if (mem.newContract) {
    await put('Contract', [mem.newContract]);
    mem.newContract = undefined;
  }
  // Keep the order cache bounded (Map order = least recently touched first).
  if (mem.orders.size > ORDER_CACHE_LIMIT) {
    for (const id of mem.orders.keys()) {
      mem.orders.delete(id);
      if (mem.orders.size <= ORDER_CACHE_LIMIT * 0.9) break;
    }
  }
}

/** Every handler goes through here: open the block if new, run `body`, close the block after its last log. */
/** The fields of a log the handlers use, read once (every read of a node object crosses the sandbox bridge). */
interface LogRef { txHash: string; logIndex: number; sender: string }

async function withinBlock(log: EthereumLog, body: (b: Batch, l: LogRef) => Promise<void>): Promise<void> {
  const blockHash = log.blockHash;
  if (!batch || batch.hash !== blockHash) batch = await openBlock(log);
  const b = batch;
  const txHash = log.transactionHash;
  const logIndex = log.logIndex;
  let tx = b.txs.get(txHash);
  if (!tx) {
    const t = log.transaction;
    tx = {
      id: txHash,
      blockId: blockHash,
      blockNumber: b.number,
      index: log.transactionIndex,
      from: (t?.from ?? '').toLowerCase(),
      to: t?.to?.toLowerCase(),
      value: t?.value ?? 0n,
    };
    b.txs.set(txHash, tx);
  }
  await body(b, { txHash, logIndex, sender: tx.from });
  if (logIndex >= b.lastLogIndex) await flush(b);
}

function eventRow(b: Batch, l: LogRef, kind: string, args: EventArgs, orderId?: string): Row<OrderEventProps> {
  return {
    id: `${l.txHash}-${l.logIndex}`,
    kind,
    orderId,
    args,
    blockNumber: b.number,
    blockHash: b.hash,
    timestamp: b.date,
    blockId: b.hash,
    transactionId: l.txHash,
    transactionHash: l.txHash,
    logIndex: l.logIndex,
    sender: l.sender,
    anomaly: false,
  };
}

async function getOrder(id: string, creating: boolean): Promise<OrderRecord | undefined> {
  const hit = mem.orders.get(id);
  if (hit) return hit;
  if (mem.knowsAllOrders && (creating || !mem.orderIds.has(id))) return undefined;
  return load<OrderRecord>('Order', id);
}

// ------------------------------------------------------------ entry points

/** Contract events that are not about one order (roles, fees, pause, withdrawals). */
export async function recordContractEvent(log: EthereumLog, kind: string, args: EventArgs): Promise<void> {
  await withinBlock(log, async (b, l) => {
    b.events.push(eventRow(b, l, kind, args));
  });
}

/** An order event: kept as an OrderEvent, then applied to the order if possible. */
export async function recordOrderEvent(log: EthereumLog, data: OrderEventData, args: EventArgs): Promise<void> {
  await withinBlock(log, async (b, l) => {
    const event = eventRow(b, l, data.kind, args, data.orderId);
    b.events.push(event);
    const prior = await getOrder(data.orderId, data.kind === 'OrderCreated');
    const t = applyOrderEvent(prior, data, { blockNumber: b.number, timestamp: b.timestamp, date: b.date });
    if (!t.ok) {
      logger.error(`IMPOSSIBLE EVENT kept as anomaly: ${data.kind} in block ${b.number} tx ${l.txHash} log ${l.logIndex}: ${t.reason}`);
      event.anomaly = true;
      event.anomalyReason = t.reason;
      return;
    }
    const order = t.order;
    mem.orders.delete(order.id); // re-insert: most recently touched last
    mem.orders.set(order.id, order);
    b.orders.add(order.id);
    if (data.kind === 'OrderCreated') mem.orderIds.add(order.id);
    for (const delta of t.accounts) await applyAccount(b, delta, order.paymentMode, b.number);
    if (t.payout) {
      b.payouts.push({
        id: event.id,
        orderId: order.id,
        recipientId: t.payout.recipient,
        kind: t.payout.kind,
        paymentMode: order.paymentMode,
        amount: t.payout.amount,
        receiptHash: t.payout.receiptHash,
        credited: t.payout.credited,
        blockNumber: b.number,
        timestamp: event.timestamp,
        transactionHash: l.txHash,
      });
    }
    if (data.kind === 'DisputeRaised') {
      mem.disputes.set(order.id, {
        id: order.id,
        orderId: order.id,
        raisedBy: data.raisedBy,
        evidenceCid: data.evidenceCid,
        raisedBlock: b.number,
        raisedAt: event.timestamp,
        resolved: false,
      });
      b.disputes.add(order.id);
    } else if (data.kind === 'DisputeResolved') {
      const dispute = mem.disputes.get(order.id) ?? (await load<DisputeRow>('Dispute', order.id));
      if (dispute) {
        mem.disputes.set(order.id, {
          ...dispute,
          resolved: true,
          buyerShareBps: data.buyerShareBps,
          buyerAmount: data.buyerAmount,
          sellerAmount: data.sellerAmount,
          fee: data.fee,
          resolvedBy: l.sender,
          resolvedBlock: b.number,
          resolvedAt: event.timestamp,
        });
        b.disputes.add(order.id);
      }
    }
    await applyRollup(b, t.rollup, order.paymentMode, b.timestamp);
  });
}

// ------------------------------------------------------------ accounts and rollups

async function applyAccount(b: Batch, d: AccountDelta, mode: Mode, blockNumber: number): Promise<void> {
  let a = mem.accounts.get(d.address) ?? (await load<AccountRow>('Account', d.address));
  a ??= {
    id: d.address,
    buyerOrderCount: 0,
    sellerOrderCount: 0,
    boughtNative: 0n,
    boughtKes: 0n,
    soldNative: 0n,
    soldKes: 0n,
    receivedNative: 0n,
    receivedKes: 0n,
    firstSeenBlock: blockNumber,
    lastSeenBlock: blockNumber,
  };
  const native = mode === 'NATIVE';
  a.buyerOrderCount += d.buyerOrders ?? 0;
  a.sellerOrderCount += d.sellerOrders ?? 0;
  if (d.bought) native ? (a.boughtNative += d.bought) : (a.boughtKes += d.bought);
  if (d.sold) native ? (a.soldNative += d.sold) : (a.soldKes += d.sold);
  if (d.received) native ? (a.receivedNative += d.received) : (a.receivedKes += d.received);
  a.lastSeenBlock = blockNumber;
  mem.accounts.set(a.id, a);
  b.accounts.add(a.id);
}

function isEmpty(r: RollupDelta): boolean {
  return !r.ordersCreated && !r.ordersFunded && !r.volumeFunded && !r.fees && !r.paidOut && !r.held;
}

async function applyRollup(b: Batch, r: RollupDelta, mode: Mode, timestamp: bigint): Promise<void> {
  if (isEmpty(r)) return;
  let total = mem.totals.get(mode) ?? (await load<TotalRow>('ModeTotal', mode));
  total ??= { id: mode, ordersCreated: 0, ordersFunded: 0, volumeFunded: 0n, fees: 0n, paidOut: 0n, refunded: 0n, heldInEscrow: 0n };
  total.ordersCreated += r.ordersCreated;
  total.ordersFunded += r.ordersFunded;
  total.volumeFunded += r.volumeFunded;
  total.fees += r.fees;
  total.paidOut += r.paidOut;
  total.refunded += r.refunded;
  total.heldInEscrow += r.held;
  mem.totals.set(mode, total);
  b.totals.add(mode);

  const date = utcDay(timestamp);
  const id = `${date}-${mode}`;
  let day = mem.days.get(id) ?? (await load<DayRow>('DailyModeStat', id));
  day ??= { id, date, paymentMode: mode, ordersCreated: 0, ordersFunded: 0, volumeFunded: 0n, fees: 0n, paidOut: 0n, refunded: 0n, heldInEscrow: 0n };
  day.ordersCreated += r.ordersCreated;
  day.ordersFunded += r.ordersFunded;
  day.volumeFunded += r.volumeFunded;
  day.fees += r.fees;
  day.paidOut += r.paidOut;
  day.refunded += r.refunded;
  day.heldInEscrow = total.heldInEscrow;
  mem.days.set(id, day);
  b.days.add(id);
}
