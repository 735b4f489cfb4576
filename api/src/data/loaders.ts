/**
 * Per-request DataLoaders: every nested field of a list resolves with one batched query
 * per kind of thing, whatever the list's length. Products and profiles go through the
 * Redis cache first.
 */
import DataLoader from 'dataloader';
import type { Deps } from '../context';
import type { ContractClock, IndexAccount, IndexBlock, IndexDispute, IndexEvent, IndexOrder, IndexPayout, IndexTransaction } from './indexReader';
import type { LedgerPayment, LedgerPayout } from './ledgerReader';

export interface ProductRow {
  id: string; sellerId: string; title: string; description: string; priceNative: string | null; priceKes: number | null;
  imageCid: string | null; active: boolean; createdAt: Date; updatedAt: Date; deletedAt: Date | null;
}
export interface UserRow { address: string; displayName: string | null; phone: string | null; createdAt: Date; updatedAt: Date }
export interface DraftRow {
  orderId: string; productId: string | null; buyer: string; seller: string; quantity: number; amount: string; paymentMode: 'NATIVE' | 'MPESA';
  deliveryAddress: string; buyerPhone: string | null; metadataCid: string; checkoutRequestId: string | null; orderSalt: string | null; createdAt: Date;
}
export interface EvidenceRow { id: string; orderId: string; uploader: string; cid: string; filename: string; mimeType: string; size: number; note: string; createdAt: Date }

export function toProductRow(p: { priceNative: { toFixed(): string } | null } & Omit<ProductRow, 'priceNative'>): ProductRow {
  return { ...p, priceNative: p.priceNative === null ? null : p.priceNative.toFixed() };
}
export function toDraftRow(d: { amount: { toFixed(): string } } & Omit<DraftRow, 'amount'>): DraftRow {
  return { ...d, amount: d.amount.toFixed() };
}

const byKey = <T, K extends string>(keys: readonly K[], rows: T[], key: (r: T) => string): (T | null)[] => {
  const m = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => m.get(k) ?? null);
};
const grouped = <T>(keys: readonly string[], rows: T[], key: (r: T) => string | null): T[][] => {
  const m = new Map<string, T[]>(keys.map((k) => [k, []]));
  for (const r of rows) m.get(key(r) ?? '')?.push(r);
  return keys.map((k) => m.get(k)!);
};

export function createLoaders(d: Deps) {
  const { index, ledger, prisma, cache } = d;
  return {
    order: new DataLoader<string, IndexOrder | null>(async (ids) => byKey(ids, await index.ordersByIds(ids), (r) => r.id)),
    /** The contract's pause state (one key: the index has one Contract row). */
    clock: new DataLoader<'contract', ContractClock>(async (keys) => {
      const clock = await index.contractClock();
      return keys.map(() => clock);
    }),
    draft: new DataLoader<string, DraftRow | null>(async (ids) =>
      byKey(ids, (await prisma.orderDraft.findMany({ where: { orderId: { in: [...ids] } } })).map(toDraftRow), (r) => r.orderId)),
    events: new DataLoader<string, IndexEvent[]>(async (ids) => grouped(ids, await index.eventsByOrderIds(ids), (r) => r.orderId)),
    chainPayouts: new DataLoader<string, IndexPayout[]>(async (ids) => grouped(ids, await index.payoutsByOrderIds(ids), (r) => r.orderId)),
    dispute: new DataLoader<string, IndexDispute | null>(async (ids) => byKey(ids, await index.disputesByIds(ids), (r) => r.id)),
    evidence: new DataLoader<string, EvidenceRow[]>(async (ids) =>
      grouped(ids, await prisma.evidence.findMany({ where: { orderId: { in: [...ids] } }, orderBy: { createdAt: 'asc' } }), (r) => r.orderId)),
    ledgerPayments: new DataLoader<string, LedgerPayment[]>(async (ids) => grouped(ids, await ledger.paymentsByOrderIds(ids), (r) => r.orderId)),
    ledgerPayouts: new DataLoader<string, LedgerPayout[]>(async (ids) => grouped(ids, await ledger.payoutsByOrderIds(ids), (r) => r.orderId)),
    user: new DataLoader<string, UserRow | null>((addresses) =>
      cache.getMany<UserRow>('user', addresses, async (missing) => {
        const rows = await prisma.user.findMany({ where: { address: { in: missing } } });
        return new Map(rows.map((r) => [r.address, r]));
      })),
    product: new DataLoader<string, ProductRow | null>((ids) =>
      cache.getMany<ProductRow>('product', ids, async (missing) => {
        const rows = await prisma.product.findMany({ where: { id: { in: missing } } });
        return new Map(rows.map((r) => [r.id, toProductRow(r)]));
      })),
    account: new DataLoader<string, IndexAccount | null>(async (ids) => byKey(ids, await index.accountsByIds(ids), (r) => r.address)),
    block: new DataLoader<string, IndexBlock | null>(async (ids) => byKey(ids, await index.blocksByHashes(ids), (r) => r.hash)),
    transaction: new DataLoader<string, IndexTransaction | null>(async (ids) => byKey(ids, await index.transactionsByHashes(ids), (r) => r.hash)),
    blockTransactions: new DataLoader<string, IndexTransaction[]>(async (ids) => grouped(ids, await index.transactionsByBlockHashes(ids), (r) => r.blockHash)),
    txEvents: new DataLoader<string, IndexEvent[]>(async (ids) => grouped(ids, await index.eventsByTxHashes(ids), (r) => r.transactionHash)),
    blockEvents: new DataLoader<string, IndexEvent[]>(async (ids) => grouped(ids, await index.eventsByBlockHashes(ids), (r) => r.blockHash)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
