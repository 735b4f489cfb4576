/**
 * Several hundred orders through every path of the life cycle on a real anvil with the
 * real contract, indexed by the real subql-node-ethereum into a fresh Postgres: every
 * indexed Order must equal the contract's getOrder/payoutSplit, every log must be one
 * OrderEvent, and the money rollups must reconcile with the chain.
 */
import { encodeFunctionData, decodeFunctionResult, decodeEventLog, type Hex } from 'viem';
import { escrowAbi } from '@descrow/contracts';
import { PATHS, contractLogs, driveOrders, readOrders } from '../scripts/chain';
import { decodeLog } from '../src/mappings/events';
import { at, compareWithChain, startRig, type Rig } from './support';

jest.setTimeout(240_000);

const ORDERS = PATHS.length * 24; // every path 24 times

let rig: Rig;
let ids: Hex[];

beforeAll(async () => {
  rig = await startRig('equiv');
  const t0 = Date.now();
  ids = await driveOrders(rig.chain, ORDERS, { label: 'equiv', perBlock: 150 });
  process.stdout.write(`drove ${ORDERS} orders through ${PATHS.length} paths in ${Date.now() - t0} ms\n`);
  const t1 = Date.now();
  const head = await rig.catchUp(180_000);
  process.stdout.write(`indexed to head ${head} in ${Date.now() - t1} ms\n`);
});

afterAll(async () => {
  await rig?.stop();
});

/** Rows of a query against the index. */
const q = async <T extends object>(sql: string) => (await rig.node.pool.query<T & Record<string, unknown>>(sql)).rows;

test('every indexed order equals getOrder/payoutSplit, and every log is one OrderEvent', async () => {
  const r = await compareWithChain(rig, ids);
  expect(r.orders).toBe(ORDERS);
  expect(r.diffs).toEqual([]);
  expect(r.events).toBe(r.logs);
  // Every path really ended where it should (the workload is not trivially uniform).
  const { rows } = await rig.node.pool.query<{ status: string; payment_mode: string; n: string }>(
    `SELECT status, payment_mode, count(*) AS n FROM "${rig.schema}".orders WHERE ${at()} GROUP BY 1, 2`,
  );
  const seen = new Set(rows.map((x) => `${x.payment_mode}:${x.status}`));
  for (const s of ['NATIVE:COMPLETED', 'NATIVE:CANCELLED', 'NATIVE:RESOLVED', 'NATIVE:REFUNDED', 'NATIVE:CREATED', 'NATIVE:DISPUTED',
    'MPESA:COMPLETED', 'MPESA:CANCELLED', 'MPESA:RESOLVED', 'MPESA:REFUNDED', 'MPESA:DELIVERED', 'MPESA:CREATED', 'MPESA:SHIPPED']) {
    expect(seen).toContain(s);
  }
});

test('OrderEvent ids are transaction hash + log index, with the decoded kind and sender', async () => {
  const logs = await contractLogs(rig.chain);
  const { rows } = await rig.node.pool.query<{ id: string; kind: string; sender: string; anomaly: boolean; block_number: number }>(
    `SELECT id, kind, sender, anomaly, block_number FROM "${rig.schema}".order_events WHERE ${at()}`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const log of logs) {
    const id = `${log.transactionHash}-${Number(log.logIndex)}`;
    const row = byId.get(id);
    expect(row).toBeDefined();
    const decoded = decodeEventLog({ abi: escrowAbi, topics: log.topics as [Hex, ...Hex[]], data: (log as unknown as { data: Hex }).data });
    expect(row!.kind).toBe(decoded.eventName);
    expect(row!.block_number).toBe(Number(log.blockNumber));
  }
  expect(rows.filter((r) => r.anomaly)).toEqual([]);
  expect(rows.every((r) => /^0x[0-9a-f]{40}$/.test(r.sender))).toBe(true);
});

test('every OrderEvent, Transaction, Block and Payout row holds exactly what the chain says', async () => {
  // Rows of these entities reach the store through reused objects (src/mappings/rows.ts):
  // a key left over from an earlier row, or a change missed, would show up here.
  const s = rig.schema;
  const logs = (await contractLogs(rig.chain)) as unknown as { transactionHash: Hex; logIndex: Hex; blockNumber: Hex; blockHash: Hex; topics: Hex[]; data: Hex }[];
  const events = new Map((await q<{ id: string; kind: string; order_id: string | null; args: unknown; block_number: number; block_hash: string; block_id: string; transaction_id: string; transaction_hash: string; log_index: number; timestamp: Date }>(
    `SELECT id, kind, order_id, args, block_number, block_hash, block_id, transaction_id, transaction_hash, log_index, timestamp FROM "${s}".order_events WHERE ${at()}`)).map((r) => [r.id, r]));
  const txs = new Map((await q<{ id: string; block_id: string; block_number: number; index: number; from: string; to: string | null; value: string }>(
    `SELECT id, block_id, block_number, index, "from", "to", value FROM "${s}".transactions WHERE ${at()}`)).map((r) => [r.id, r]));
  const blocks = new Map((await q<{ id: string; number: number; parent_hash: string; timestamp: Date }>(
    `SELECT id, number, parent_hash, timestamp FROM "${s}".blocks WHERE ${at()}`)).map((r) => [r.id, r]));
  const payouts = new Map((await q<{ id: string; order_id: string; recipient_id: string; amount: string; receipt_hash: string | null; block_number: number; transaction_hash: string }>(
    `SELECT id, order_id, recipient_id, amount, receipt_hash, block_number, transaction_hash FROM "${s}".payouts WHERE ${at()}`)).map((r) => [r.id, r]));

  type ChainBlock = { hash: Hex; parentHash: Hex; number: Hex; timestamp: Hex; transactions: { hash: Hex; from: Hex; to: Hex | null; value: Hex; transactionIndex: Hex }[] };
  const chainBlocks = new Map<string, ChainBlock>();
  for (const hash of new Set(logs.map((l) => l.blockHash))) chainBlocks.set(hash, await rig.chain.rpc<ChainBlock>('eth_getBlockByHash', [hash, true]));
  expect(blocks.size).toBe(chainBlocks.size);
  expect(txs.size).toBe(new Set(logs.map((l) => l.transactionHash)).size);

  for (const log of logs) {
    const id = `${log.transactionHash}-${Number(log.logIndex)}`;
    const decoded = decodeLog(log.topics, log.data)!;
    const block = chainBlocks.get(log.blockHash)!;
    const time = new Date(Number(BigInt(block.timestamp)) * 1000);
    expect({ id, ...events.get(id) }).toEqual({
      id, kind: decoded.kind, order_id: decoded.order?.orderId ?? null, args: decoded.args,
      block_number: Number(log.blockNumber), block_hash: log.blockHash, block_id: log.blockHash, timestamp: time,
      transaction_id: log.transactionHash, transaction_hash: log.transactionHash, log_index: Number(log.logIndex),
    });
    const tx = block.transactions.find((t) => t.hash === log.transactionHash)!;
    expect(txs.get(log.transactionHash)).toEqual({
      id: log.transactionHash, block_id: log.blockHash, block_number: Number(log.blockNumber), index: Number(BigInt(tx.transactionIndex)),
      from: tx.from.toLowerCase(), to: tx.to?.toLowerCase() ?? null, value: BigInt(tx.value).toString(),
    });
    expect(blocks.get(log.blockHash)).toEqual({ id: log.blockHash, number: Number(BigInt(block.number)), parent_hash: block.parentHash, timestamp: time });
    const ev = decoded.order;
    if (ev?.kind === 'PayoutSent' || ev?.kind === 'PayoutRecorded') {
      expect(payouts.get(id)).toEqual({
        id, order_id: ev.orderId, block_number: Number(log.blockNumber), transaction_hash: log.transactionHash,
        ...(ev.kind === 'PayoutSent'
          ? { recipient_id: ev.recipient, amount: ev.amount.toString(), receipt_hash: null }
          : { recipient_id: ev.beneficiary, amount: ev.amountKes.toString(), receipt_hash: ev.receiptHash }),
      });
    }
  }
});

test('payouts, accounts and rollups reconcile with the chain', async () => {
  const s = rig.schema;

  // One Payout per PayoutSent/PayoutRecorded log.
  const payoutLogs = (await contractLogs(rig.chain)).filter((l) => {
    const e = decodeEventLog({ abi: escrowAbi, topics: l.topics as [Hex, ...Hex[]], data: (l as unknown as { data: Hex }).data });
    return e.eventName === 'PayoutSent' || e.eventName === 'PayoutRecorded';
  });
  const [payouts] = await q<{ n: string }>(`SELECT count(*) AS n FROM "${s}".payouts WHERE ${at()}`);
  expect(Number(payouts!.n)).toBe(payoutLogs.length);

  // Native: what the index says is held in escrow is the contract balance minus accrued fees and credits.
  const call = async (fn: 'accruedFees' | 'totalCredits') =>
    decodeFunctionResult({ abi: escrowAbi, functionName: fn, data: await rig.chain.rpc<Hex>('eth_call', [{ to: rig.chain.deployment.address, data: encodeFunctionData({ abi: escrowAbi, functionName: fn }) }, 'latest']) }) as bigint;
  const balance = BigInt(await rig.chain.rpc<Hex>('eth_getBalance', [rig.chain.deployment.address, 'latest']));
  const totals = new Map((await q<{ id: string; held_in_escrow: string; volume_funded: string; fees: string; paid_out: string; orders_created: number }>(
    `SELECT * FROM "${s}".mode_totals WHERE ${at()}`)).map((r) => [r.id, r]));
  expect(BigInt(totals.get('NATIVE')!.held_in_escrow)).toBe(balance - (await call('accruedFees')) - (await call('totalCredits')));

  // M-Pesa: held = what funded orders still owe, from the contract's views.
  const views = [...(await readOrders(rig.chain, ids)).values()].filter((o) => o.paymentMode === 'MPESA');
  let owed = 0n;
  for (const o of views) {
    if (['FUNDED', 'SHIPPED', 'DISPUTED', 'DELIVERED'].includes(o.status)) owed += o.amount;
    if (o.status === 'RESOLVED') owed += (o.buyerRefundDue ? o.buyerAmount : 0n) + (o.sellerPayoutDue ? o.sellerAmount : 0n);
    if (o.status === 'REFUNDED' && o.buyerRefundDue) owed += o.amount;
  }
  expect(BigInt(totals.get('MPESA')!.held_in_escrow)).toBe(owed);
  expect(totals.get('MPESA')!.orders_created + totals.get('NATIVE')!.orders_created).toBe(ORDERS);

  // Daily rollups add up to the running totals.
  const daily = await q<{ payment_mode: string; vf: string; fees: string; po: string; oc: string }>(
    `SELECT payment_mode, sum(volume_funded) AS vf, sum(fees) AS fees, sum(paid_out) AS po, sum(orders_created) AS oc
       FROM "${s}".daily_mode_stats WHERE ${at()} GROUP BY 1`);
  for (const d of daily) {
    const t = totals.get(d.payment_mode)!;
    expect([d.vf, d.fees, d.po, Number(d.oc)]).toEqual([t.volume_funded, t.fees, t.paid_out, t.orders_created]);
  }

  // Accounts: order counts match the orders table.
  const [acc] = await q<{ b: string; sl: string }>(`SELECT sum(buyer_order_count) AS b, sum(seller_order_count) AS sl FROM "${s}".accounts WHERE ${at()}`);
  expect([Number(acc!.b), Number(acc!.sl)]).toEqual([ORDERS, ORDERS]);

  // Every block and transaction that touched the contract is there.
  const logs = await contractLogs(rig.chain);
  const [bt] = await q<{ blocks: string; txs: string }>(
    `SELECT (SELECT count(*) FROM "${s}".blocks WHERE ${at()}) AS blocks, (SELECT count(*) FROM "${s}".transactions WHERE ${at()}) AS txs`);
  expect(Number(bt!.blocks)).toBe(new Set(logs.map((l) => l.blockNumber)).size);
  expect(Number(bt!.txs)).toBe(new Set(logs.map((l) => l.transactionHash)).size);
});
