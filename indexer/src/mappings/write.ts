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
 * - `Contract` (one row) records the last block written. The store rolls it back on a
 *   rewind (reorg), so at the start of every block the in-memory state is checked
 *   against it and dropped if the store went back. A fresh index (no `Contract` row)
 *   means every order is known in memory, so OrderCreated needs no read at all.
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
  contract: ContractRow | undefined;
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
  const block = log.block;
  const parentHash = block.parentHash;
  const c = mem.contract;
  // The direct child of the last block we wrote cannot follow a rewind (a rewind makes the
  // node index a height we already did again). Anything else is checked against the store.
  const linked = c !== undefined && number === c.lastEventBlock + 1 && parentHash === c.lastEventBlockHash;
  const stored = linked ? c : await load<ContractRow>('Contract', address);
  if (!c || stored?.lastEventBlockHash !== c.lastEventBlockHash || number <= c.lastEventBlock) {
    if (mem.contract) logger.warn(`index went back to block ${stored?.lastEventBlock ?? 'none'} (rewind): dropping in-memory state`);
    mem = new Memory();
    mem.contract = stored ?? { id: address, lastEventBlock: -1, lastEventBlockHash: '', eventCount: 0, orderCount: 0 };
    // Nothing indexed yet: from here on, every order is seen being created.
    mem.knowsAllOrders = !stored;
  }
  let last = log.logIndex;
  const logs = block.logs ?? [];
  if (logs.length > 1) for (const l of logs) if (l.logIndex > last && l.address.toLowerCase() === address) last = l.logIndex;
  const timestamp = block.timestamp;
  // One Date per block, shared by every row of the block (fewer objects to cross the bridge).
  const date = toDate(timestamp);
  const hash = log.blockHash;
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

async function flush(b: Batch): Promise<void> {
  batch = undefined;
  const c = mem.contract!;
  c.lastEventBlock = b.number;
  c.lastEventBlockHash = b.hash;
  c.eventCount += b.events.length;
  const pick = <T>(ids: Set<string>, from: Map<string, T>) => [...ids].map((id) => from.get(id)!);
  await store.bulkCreate('Block', [b.block] as never[]);
  await store.bulkCreate('Transaction', [...b.txs.values()] as never[]);
  await store.bulkCreate('OrderEvent', b.events as never[]);
  if (b.orders.size) await store.bulkUpdate('Order', pick(b.orders, mem.orders) as never[]);
  if (b.payouts.length) await store.bulkCreate('Payout', b.payouts as never[]);
  if (b.disputes.size) await store.bulkUpdate('Dispute', pick(b.disputes, mem.disputes) as never[]);
  if (b.accounts.size) await store.bulkUpdate('Account', pick(b.accounts, mem.accounts) as never[]);
  if (b.totals.size) await store.bulkUpdate('ModeTotal', pick(b.totals, mem.totals) as never[]);
  if (b.days.size) await store.bulkUpdate('DailyModeStat', pick(b.days, mem.days) as never[]);
  await store.bulkUpdate('Contract', [c] as never[]);
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
    if (data.kind === 'OrderCreated') {
      mem.orderIds.add(order.id);
      mem.contract!.orderCount += 1;
    }
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
