/**
 * Documents the API writes for an order and whose CID goes on chain: tracking details
 * (markShipped) and dispute statements (raiseDispute). The CID on chain is public: anyone
 * can put a victim's CID on an order of their own. So a document is shown on an order only
 * when (1) app.order_documents says the API stored that CID for that order and kind, and
 * (2) the sealed document itself names that order and kind. Both are sealed at rest.
 */
import type { Ctx } from '../context';

export type OrderDocumentKind = 'tracking' | 'dispute';

/** Seal `doc` for `orderId`, record the binding, and return the CID for the chain. */
export async function storeOrderDocument(ctx: Ctx, orderId: string, kind: OrderDocumentKind, author: string, doc: Record<string, unknown>): Promise<string> {
  const body = { v: 2, kind, orderId, ...doc };
  const cid = await ctx.deps.orderDocuments.put(Buffer.from(JSON.stringify(body)), `${orderId}-${kind}.json`);
  // A fresh IV per seal: every CID is new, so the row is new too.
  await ctx.deps.prisma.orderDocument.create({ data: { cid, orderId, kind, author } });
  return cid;
}

/** The document under `cid`, only if it was stored for this order and kind and names them; else null. */
export async function readOrderDocument(ctx: Ctx, orderId: string, kind: OrderDocumentKind, cid: string): Promise<Record<string, unknown> | null> {
  const row = await ctx.deps.prisma.orderDocument.findUnique({ where: { cid } });
  if (!row || row.orderId !== orderId || row.kind !== kind) return null;
  const plain = await ctx.deps.orderDocuments.get(cid);
  if (!plain) return null;
  try {
    const doc = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
    return doc && doc.orderId === orderId && doc.kind === kind ? doc : null;
  } catch {
    return null;
  }
}
