/**
 * The benchmark's yardstick (BENCH_BASELINE=1): what a straightforward SubQuery project
 * does — one handler per event, and every event reads its order from the store, applies
 * the same pure state machine and writes `Order` and `OrderEvent`, each awaited. No
 * explorer entities, no batching, no memory. It decodes with our decoder rather than the
 * node's ABI decoding (which is ~2× slower again), so the yardstick is not a straw man.
 * Not used in production; it exists so indexer speed can be compared on the same
 * machine at the same moment (these VMs' speed drifts by ±25 %).
 */
import type { EthereumLog } from '@subql/types-ethereum';
import { escrowAbi } from '../../../contracts/generated/escrow';
import { orderEventData } from '../../src/mappings/events';
import { decodeEvent } from '../../src/mappings/abi';
import { argList } from '../../src/mappings/decode';
import { applyOrderEvent, type OrderRecord } from '../../src/state/order';

async function handle(kind: string, log: EthereumLog): Promise<void> {
  const decoded = decodeEvent(kind, log.topics, log.data);
  const args = argList(kind, decoded);
  const data = orderEventData(kind, decoded);
  let anomaly = false;
  if (data) {
    const prior = (await store.get('Order', data.orderId)) as unknown as OrderRecord | undefined;
    const t = applyOrderEvent(prior ? { ...prior } : undefined, data, { blockNumber: log.blockNumber, timestamp: log.block.timestamp });
    if (t.ok) await store.set('Order', data.orderId, t.order as never);
    else anomaly = true;
  }
  await store.set('OrderEvent', `${log.transactionHash}-${log.logIndex}`, {
    id: `${log.transactionHash}-${log.logIndex}`,
    kind,
    orderId: data?.orderId,
    args,
    blockNumber: log.blockNumber,
    blockHash: log.blockHash,
    timestamp: new Date(Number(log.block.timestamp) * 1000),
    blockId: log.blockHash,
    transactionId: log.transactionHash,
    transactionHash: log.transactionHash,
    logIndex: log.logIndex,
    sender: log.transaction.from.toLowerCase(),
    anomaly,
  } as never);
}

/** `handle<EventName>` for every event of the ABI, as the bundle's exports. */
const handlers: Record<string, (log: EthereumLog) => Promise<void>> = {};
for (const item of escrowAbi) if (item.type === 'event') handlers[`handle${item.name}`] = (log) => handle(item.name, log);
module.exports = handlers;
