/**
 * One block's Escrow logs → store writes, the way Subsquid's processors work: decode the
 * logs into plain records, load what memory lacks in one round, apply the pure state
 * machine (../state/order) in memory, write every changed row once.
 *
 * Why it is shaped like this (docs/benchmarks.md, "Indexer"): the handlers run in the
 * node's vm2 sandbox, where crossing into the node costs far more than our own work —
 * awaiting a node promise ~40 µs, a Date in a row ~30 µs, every row key a few µs, and
 * a handler call itself 80–200 µs. So:
 * - state handlers read (orders, accounts, totals, days, disputes) stays in memory; on a
 *   fresh index everything that exists is in memory (`complete`) and nothing is read;
 * - a block whose state is all in memory is handled synchronously (no promise of its
 *   own); only a block that must read the store awaits anything;
 * - rows go to the store with `store.set`, not awaited: the node's store cache copies
 *   them synchronously during the call (@subql/node-core 19, pinned), and a failed
 *   write rejects unhandled, which stops the node (nothing of the block is flushed);
 * - where it can, a row goes as the node's own object with only its changed keys set
 *   (./rows), not as a sandbox object the node would copy key by key through the bridge;
 * - Dates are written as ISO strings (Postgres parses them into the timestamp columns;
 *   a Date object would be a proxy the node walks), undefined keys are left out.
 *
 * Memory lives as long as this module, i.e. the node's sandbox for the project. The node
 * handles blocks in order and handles a height again only after a rewind (a reorg, or an
 * admin rewind), and after every rewind it starts a new sandbox (patches/README.md,
 * "A new sandbox after a rewind"), so memory never outlives the store it describes. A new
 * sandbox reads the Contract row once to learn whether the index is empty. This assumes
 * the node runs without --workers (one sandbox, blocks in order).
 */
import {
  applyOrderEvent,
  MODES,
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
import { decodeLog, type DecodedLog } from './events';
import { RowWriter } from './rows';

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

/** Every entity the handler writes, with its row type. */
interface Rows {
  Block: Row<BlockProps>;
  Transaction: Row<TransactionProps>;
  OrderEvent: Row<OrderEventProps>;
  Order: OrderRecord;
  Payout: Row<PayoutProps>;
  Dispute: DisputeRow;
  Account: AccountRow;
  ModeTotal: TotalRow;
  DailyModeStat: DayRow;
  Contract: ContractRow;
}

/** The block as the handler read it from the node. */
export interface BlockInput {
  number: number;
  hash: string;
  parentHash: string;
  /** Unix seconds. */
  timestamp: bigint;
}

/** One log of the contract, with its transaction, as plain values. */
export interface LogInput {
  logIndex: number;
  topics: string[];
  data: string;
  txHash: string;
  txIndex: number;
  from: string;
  to?: string;
  value: bigint;
}

// ------------------------------------------------------------ memory

/** Orders kept in memory (most recently touched); older ones are read back on demand. */
const ORDER_CACHE_LIMIT = 50_000;

class Memory {
  /** The index was empty when this memory started: every entity that exists is here (orders: or in orderIds). */
  complete = false;
  /**
   * The Contract row (written with the first block of an empty index, then on every pause
   * and unpause): its pausedSeconds turn the deadlines events carry into clock deadlines.
   */
  contract: ContractRow | undefined;
  orders = new Map<string, OrderRecord>();
  /** Ids of every order ever created, kept while `complete` (orders may be evicted from `orders`). */
  orderIds = new Set<string>();
  accounts = new Map<string, AccountRow>();
  totals = new Map<string, TotalRow>();
  days = new Map<string, DayRow>();
  disputes = new Map<string, DisputeRow>();
  /**
   * Hands rows to the store (./rows): entities only ever inserted share pooled mirrors; a
   * dispute (written when raised and when resolved) and the contract (once) go as they are.
   */
  rows = new RowWriter(new Set<keyof Rows>(['Block', 'Transaction', 'OrderEvent', 'Payout']), new Set<keyof Rows>(['Dispute', 'Contract']));
}

const mem = new Memory();
/** Whether this sandbox has read what the store holds (the Contract row) yet. */
let started = false;

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

// ------------------------------------------------------------ entry point

/**
 * What a block that needed no store read returns: a settled promise (the node awaits every
 * handler). Once a write has succeeded, that is one of the node's own promises — the
 * node's `then` on one of ours (a sandbox object) costs it bridge crossings every block.
 */
const DONE: Promise<void> = Promise.resolve();
let nodeDone: Promise<void> | undefined;
let adopting = false;
const done = (): Promise<void> => nodeDone ?? DONE;
/** The settled promise a handler returns when it has nothing to do. */
export const settled = done;

/** Take a store promise, once it has fulfilled, as the settled promise handlers return. */
function adopt(p: Promise<void>): void {
  adopting = true;
  p.then(
    () => (nodeDone = p),
    (e: unknown) => {
      adopting = false;
      throw e; // still unhandled, so the node stops as for any other failed write
    },
  );
}

/**
 * Handle one block: `logs` are the contract's logs in it (often none). Only a block that
 * has to read the store first returns a promise of its own.
 */
export function indexBlock(block: BlockInput, logs: LogInput[], address: string): Promise<void> {
  if (!logs.length) return done();
  const events = logs.map((l) => ({ log: l, decoded: decodeLog(l.topics, l.data) }));
  if (started && !missing(block, events).length) {
    apply(block, events, address);
    return done();
  }
  return (async () => {
    if (!started) await start(address);
    started = true;
    // Orders first: the accounts, totals and days to load depend on them.
    for (let round = 0; round < 2; round++) {
      const keys = missing(block, events);
      if (!keys.length) break;
      await Promise.all(keys.map((k) => fill(k)));
    }
    apply(block, events, address);
  })();
}

/** A new sandbox (start, restart, after a rewind): learn from the store whether the index is empty. */
async function start(address: string): Promise<void> {
  const contract = await load<ContractRow>('Contract', address);
  mem.contract = contract;
  // Nothing indexed yet: from here on, every entity is seen being created.
  mem.complete = !contract;
}

type Key = { entity: 'Order' | 'Account' | 'ModeTotal' | 'DailyModeStat' | 'Dispute'; id: string };
type Pending = { log: LogInput; decoded: DecodedLog | undefined };

/** What the block needs that memory lacks and the store may have. */
function missing(block: BlockInput, events: Pending[]): Key[] {
  const keys = new Map<string, Key>();
  const need = (entity: Key['entity'], id: string) => keys.set(`${entity}:${id}`, { entity, id });
  const orderKnown = (id: string) => mem.orders.has(id) || (mem.complete && !mem.orderIds.has(id));
  const accountKnown = (a: string) => mem.complete || mem.accounts.has(a);
  let orderEvents = false;
  for (const { decoded } of events) {
    const ev = decoded?.order;
    if (!ev) continue;
    orderEvents = true;
    if (!orderKnown(ev.orderId)) need('Order', ev.orderId);
    if (ev.kind === 'DisputeResolved' && !mem.complete && !mem.disputes.has(ev.orderId)) need('Dispute', ev.orderId);
    const order = mem.orders.get(ev.orderId);
    for (const a of [order?.buyerId, order?.sellerId, ...eventAddresses(ev)]) if (a && !accountKnown(a)) need('Account', a);
  }
  if (orderEvents && !mem.complete) {
    const day = utcDay(block.timestamp);
    for (const mode of MODES) {
      if (!mem.totals.has(mode)) need('ModeTotal', mode);
      if (!mem.days.has(dayId(day, mode))) need('DailyModeStat', dayId(day, mode));
    }
  }
  return [...keys.values()];
}

function eventAddresses(ev: OrderEventData): string[] {
  switch (ev.kind) {
    case 'OrderCreated': return [ev.buyer, ev.seller];
    case 'PayoutSent': return [ev.recipient];
    case 'PayoutRecorded': return [ev.beneficiary];
    default: return [];
  }
}

/** Read one missing entity into memory; a row the store does not have is created when applied. */
async function fill(k: Key): Promise<void> {
  const row = await load<Record<string, unknown> & { id: string }>(k.entity, k.id);
  const into: Record<Key['entity'], Map<string, unknown>> = {
    Order: mem.orders, Account: mem.accounts, ModeTotal: mem.totals, DailyModeStat: mem.days, Dispute: mem.disputes,
  };
  if (row) into[k.entity].set(k.id, row);
  else if (k.entity === 'Account') into.Account.set(k.id, newAccount(k.id));
  // An absent order, total, day or dispute is created (or found impossible) by apply().
  else if (k.entity === 'ModeTotal') into.ModeTotal.set(k.id, newTotal(k.id as Mode));
  else if (k.entity === 'DailyModeStat') into.DailyModeStat.set(k.id, newDay(k.id));
}

// ------------------------------------------------------------ apply and write

interface Batch {
  block: BlockInput;
  date: Date;
  day: string;
  orders: Set<string>;
  accounts: Set<string>;
  totals: Set<string>;
  days: Set<string>;
  disputes: Set<string>;
}

function apply(block: BlockInput, events: Pending[], address: string): void {
  const date = toDate(block.timestamp);
  const b: Batch = {
    block, date, day: utcDay(block.timestamp),
    orders: new Set(), accounts: new Set(), totals: new Set(), days: new Set(), disputes: new Set(),
  };
  mem.rows.startBlock(block.number);
  write('Block', { id: block.hash, number: block.number, parentHash: block.parentHash, timestamp: date });
  let contractChanged = false;
  if (!mem.contract) {
    mem.contract = { id: address, firstBlock: block.number, firstBlockHash: block.hash, firstTimestamp: date, paused: false, pausedSeconds: 0n };
    contractChanged = true;
  }
  let tx = '';
  for (const { log, decoded } of events) {
    if (log.txHash !== tx) {
      tx = log.txHash;
      write('Transaction', { id: tx, blockId: block.hash, blockNumber: block.number, index: log.txIndex, from: log.from, to: log.to, value: log.value });
    }
    const event = eventRow(b, log, decoded);
    if (decoded?.order) applyOrder(b, log, decoded.order, event);
    else if (decoded?.kind === 'Paused' || decoded?.kind === 'Unpaused') contractChanged = applyPause(mem.contract, decoded, date) || contractChanged;
    write('OrderEvent', event);
  }
  for (const id of b.orders) write('Order', mem.orders.get(id)!);
  for (const id of b.disputes) write('Dispute', mem.disputes.get(id)!);
  for (const id of b.accounts) write('Account', mem.accounts.get(id)!);
  for (const id of b.totals) write('ModeTotal', mem.totals.get(id)!);
  for (const id of b.days) write('DailyModeStat', mem.days.get(id)!);
  if (contractChanged) write('Contract', mem.contract);
  // Keep the order cache bounded (Map order = least recently touched first).
  if (mem.orders.size > ORDER_CACHE_LIMIT) {
    for (const id of mem.orders.keys()) {
      mem.orders.delete(id);
      if (mem.orders.size <= ORDER_CACHE_LIMIT * 0.9) break;
    }
  }
}

/**
 * Hand one row to the node's store, not awaited (see the top of this file), through ./rows.
 * Dates become ISO strings and undefined keys are left out: each would cost a crossing.
 */
function write<E extends keyof Rows>(entity: E, row: Rows[E]): void {
  const out: Record<string, unknown> & { id: string } = { id: row.id };
  for (const k in row) {
    const v = (row as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  const written = mem.rows.write(entity, out);
  if (!nodeDone && !adopting) adopt(written);
}

function eventRow(b: Batch, log: LogInput, decoded: DecodedLog | undefined): Row<OrderEventProps> {
  const row: Row<OrderEventProps> = {
    id: `${log.txHash}-${log.logIndex}`,
    kind: decoded?.kind ?? 'Unknown',
    orderId: decoded?.order?.orderId,
    args: decoded?.args ?? ({} as EventArgs),
    blockNumber: b.block.number,
    blockHash: b.block.hash,
    timestamp: b.date,
    blockId: b.block.hash,
    transactionId: log.txHash,
    transactionHash: log.txHash,
    logIndex: log.logIndex,
    sender: log.from,
    anomaly: false,
  };
  if (!decoded) anomaly(row, `topic ${log.topics[0] ?? '(none)'} is not an event of the Escrow ABI`);
  return row;
}

function anomaly(row: Row<OrderEventProps>, reason: string): void {
  logger.error(`IMPOSSIBLE EVENT kept as anomaly: ${row.kind} in block ${row.blockNumber} tx ${row.transactionHash} log ${row.logIndex}: ${reason}`);
  row.anomaly = true;
  row.anomalyReason = reason;
}

function applyOrder(b: Batch, log: LogInput, data: OrderEventData, event: Row<OrderEventProps>): void {
  const prior = mem.orders.get(data.orderId);
  const t = applyOrderEvent(prior, data, { blockNumber: b.block.number, timestamp: b.block.timestamp, date: b.date, pausedSeconds: mem.contract!.pausedSeconds });
  if (!t.ok) return anomaly(event, t.reason);
  const order = t.order;
  mem.orders.delete(order.id); // re-insert: most recently touched last
  mem.orders.set(order.id, order);
  b.orders.add(order.id);
  if (data.kind === 'OrderCreated' && mem.complete) mem.orderIds.add(order.id);
  for (const delta of t.accounts) applyAccount(b, delta, order.paymentMode);
  if (t.payout) {
    write('Payout', {
      id: event.id,
      orderId: order.id,
      recipientId: t.payout.recipient,
      kind: t.payout.kind,
      paymentMode: order.paymentMode,
      amount: t.payout.amount,
      receiptHash: t.payout.receiptHash,
      credited: t.payout.credited,
      blockNumber: b.block.number,
      timestamp: b.date,
      transactionHash: log.txHash,
    });
  }
  if (data.kind === 'DisputeRaised') {
    mem.disputes.set(order.id, {
      id: order.id, orderId: order.id, raisedBy: data.raisedBy, evidenceCid: data.evidenceCid,
      raisedBlock: b.block.number, raisedAt: b.date, resolved: false,
    });
    b.disputes.add(order.id);
  } else if (data.kind === 'DisputeResolved') {
    const dispute = mem.disputes.get(order.id);
    if (dispute) {
      mem.disputes.set(order.id, {
        ...dispute,
        resolved: true,
        buyerShareBps: data.buyerShareBps,
        buyerAmount: data.buyerAmount,
        sellerAmount: data.sellerAmount,
        fee: data.fee,
        resolvedBy: log.from,
        resolvedBlock: b.block.number,
        resolvedAt: b.date,
      });
      b.disputes.add(order.id);
    }
  }
  applyRollup(b, t.rollup, order.paymentMode);
}

/**
 * Paused / Unpaused: the contract's clock stops and restarts. Every deadline set before an
 * unpause moves on by its pausedFor, which the API adds through Contract.pausedSeconds.
 */
function applyPause(contract: ContractRow, decoded: DecodedLog, date: Date): boolean {
  if (decoded.kind === 'Paused') {
    contract.paused = true;
    contract.pausedSince = date;
  } else {
    contract.paused = false;
    contract.pausedSince = undefined;
    contract.pausedSeconds += BigInt(decoded.args.pausedFor ?? '0');
  }
  return true;
}

// ------------------------------------------------------------ accounts and rollups

function newAccount(id: string): AccountRow {
  return {
    id, buyerOrderCount: 0, sellerOrderCount: 0, boughtNative: 0n, boughtKes: 0n, soldNative: 0n, soldKes: 0n,
    receivedNative: 0n, receivedKes: 0n, firstSeenBlock: 0, lastSeenBlock: 0,
  };
}

function newTotal(mode: Mode): TotalRow {
  return { id: mode, ordersCreated: 0, ordersFunded: 0, volumeFunded: 0n, fees: 0n, paidOut: 0n, refunded: 0n, heldInEscrow: 0n };
}

/** DailyModeStat id: `YYYY-MM-DD-MODE`. */
const dayId = (day: string, mode: Mode) => `${day}-${mode}`;

function newDay(id: string): DayRow {
  const mode = id.slice(11) as Mode; // after `YYYY-MM-DD-`, see dayId
  return { id, date: id.slice(0, 10), paymentMode: mode, ordersCreated: 0, ordersFunded: 0, volumeFunded: 0n, fees: 0n, paidOut: 0n, refunded: 0n, heldInEscrow: 0n };
}

function applyAccount(b: Batch, d: AccountDelta, mode: Mode): void {
  let a = mem.accounts.get(d.address);
  if (!a) {
    a = newAccount(d.address);
    mem.accounts.set(a.id, a);
  }
  if (a.firstSeenBlock === 0) a.firstSeenBlock = b.block.number;
  const native = mode === 'NATIVE';
  a.buyerOrderCount += d.buyerOrders ?? 0;
  a.sellerOrderCount += d.sellerOrders ?? 0;
  if (d.bought) native ? (a.boughtNative += d.bought) : (a.boughtKes += d.bought);
  if (d.sold) native ? (a.soldNative += d.sold) : (a.soldKes += d.sold);
  if (d.received) native ? (a.receivedNative += d.received) : (a.receivedKes += d.received);
  a.lastSeenBlock = b.block.number;
  b.accounts.add(a.id);
}

function isEmpty(r: RollupDelta): boolean {
  return !r.ordersCreated && !r.ordersFunded && !r.volumeFunded && !r.fees && !r.paidOut && !r.refunded && !r.held;
}

function applyRollup(b: Batch, r: RollupDelta, mode: Mode): void {
  if (isEmpty(r)) return;
  let total = mem.totals.get(mode);
  if (!total) mem.totals.set(mode, (total = newTotal(mode)));
  total.ordersCreated += r.ordersCreated;
  total.ordersFunded += r.ordersFunded;
  total.volumeFunded += r.volumeFunded;
  total.fees += r.fees;
  total.paidOut += r.paidOut;
  total.refunded += r.refunded;
  total.heldInEscrow += r.held;
  b.totals.add(mode);

  const id = dayId(b.day, mode);
  let day = mem.days.get(id);
  if (!day) mem.days.set(id, (day = newDay(id)));
  day.ordersCreated += r.ordersCreated;
  day.ordersFunded += r.ordersFunded;
  day.volumeFunded += r.volumeFunded;
  day.fees += r.fees;
  day.paidOut += r.paidOut;
  day.refunded += r.refunded;
  day.heldInEscrow = total.heldInEscrow;
  b.days.add(id);
}
