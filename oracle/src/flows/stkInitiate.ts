/**
 * POST /internal/stk: ask the customer's phone for the money. The ledger row is written
 * *before* Daraja is called, so a crash at any point leaves a record the callback or the
 * poller can finish from.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Hex } from 'viem';
import { orderIdFor } from '@descrow/contracts';
import { traceHeaders } from '@descrow/common';
import { callbackUrl, type OracleContext } from '../context';
import { DarajaError } from '../daraja/errors';
import { normalisePhone } from '../daraja/phone';
import { failpoint } from '../failpoints';

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x-prefixed 32-byte hex').transform((s) => s.toLowerCase() as Hex);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed address');
const phone = z.string().transform((v, ctx) => {
  const n = normalisePhone(v);
  if (!n) {
    ctx.addIssue({ code: 'custom', message: 'expected a Kenyan mobile number (07…, 01…, +2547…, 2541…)' });
    return z.NEVER;
  }
  return n;
});

export const stkRequestSchema = z.object({
  orderId: hex32,
  /** The salt the oracle creates the order with: orderId must be Escrow.orderIdFor(oracle, salt). */
  salt: hex32,
  buyer: address,
  seller: address,
  amountKes: z.number().int('M-Pesa takes whole shillings').min(1).max(250_000),
  phone,
  sellerPhone: phone,
  metadataCid: z.string().max(200).default(''),
}).refine((r) => r.buyer.toLowerCase() !== r.seller.toLowerCase(), { message: 'buyer and seller must differ', path: ['seller'] });
export type StkRequest = z.infer<typeof stkRequestSchema>;

/**
 * The AccountReference names our request (not the order), so the paybill's own record of
 * a payment (Daraja's transaction pull) leads back to the request even if we never stored
 * Daraja's CheckoutRequestID. 12 characters (Daraja's limit): "DS" + 48 bits of the random
 * request id in base 36. Collisions are unlikely and still safe: the pull then matches by
 * amount, and anything ambiguous becomes a case for a person.
 */
export function accountReferenceFor(requestId: string): string {
  return `DS${BigInt(`0x${requestId.replace(/-/g, '').slice(0, 12)}`).toString(36).toUpperCase().padStart(10, '0')}`;
}

export type StkInitiateResult =
  | { ok: true; requestId: string; checkoutRequestId: string | null; status: string; customerMessage?: string; reused: boolean }
  | { ok: false; httpStatus: number; code: string; message: string };

export async function initiateStk(ctx: OracleContext, req: StkRequest, origin: { requestId?: string } = {}): Promise<StkInitiateResult> {
  const { pool, daraja, chain, config, log } = ctx;
  // Only an id this oracle can create is payable: anything else could never reach the chain.
  if (orderIdFor(chain.account.address, req.salt).toLowerCase() !== req.orderId) {
    return { ok: false, httpStatus: 400, code: 'ORDER_ID_MISMATCH', message: "orderId is not Escrow.orderIdFor(oracle, salt) for this oracle's address" };
  }
  // The order id must be free on chain: an M-Pesa order is created when it is paid.
  const onChain = await chain.getOrder(req.orderId);
  if (onChain.status !== 0) return { ok: false, httpStatus: 409, code: 'ORDER_EXISTS', message: 'this order id is already on chain' };

  const live = await pool.query<{ id: string; status: string; checkout_request_id: string | null; amount_kes: number; phone: string }>(
    `SELECT id, status, checkout_request_id, amount_kes, phone FROM oracle.payment_requests WHERE order_id=$1 AND status IN ('creating','pending','paid')`,
    [req.orderId],
  );
  const existing = live.rows[0];
  if (existing) {
    if (existing.status === 'paid') return { ok: false, httpStatus: 409, code: 'ALREADY_PAID', message: 'this order is already paid' };
    if (existing.amount_kes === req.amountKes && existing.phone === req.phone && existing.checkout_request_id) {
      // The API retried: same request, same answer.
      return { ok: true, requestId: existing.id, checkoutRequestId: existing.checkout_request_id, status: existing.status, reused: true };
    }
    return { ok: false, httpStatus: 409, code: 'PAYMENT_IN_PROGRESS', message: 'a payment request for this order is still pending' };
  }

  const id = randomUUID();
  const accountReference = accountReferenceFor(id);
  try {
    await pool.query(
      `INSERT INTO oracle.payment_requests (id, order_id, order_salt, buyer, seller, amount_kes, phone, seller_phone, metadata_cid, account_reference, status, expires_at, trace_context)
       VALUES ($1,$2,$11,$3,$4,$5,$6,$7,$8,$9,'creating', now() + ($10 || ' seconds')::interval, $12)`,
      [id, req.orderId, req.buyer, req.seller, req.amountKes, req.phone, req.sellerPhone, req.metadataCid, accountReference, String(config.ORACLE_STK_EXPIRY_SECONDS), req.salt,
        JSON.stringify({ ...traceHeaders(), ...(origin.requestId ? { requestId: origin.requestId } : {}) })],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return { ok: false, httpStatus: 409, code: 'PAYMENT_IN_PROGRESS', message: 'a payment request for this order is already being created' };
    throw err;
  }

  // Spike arrest and "unable to lock subscriber" are retryable: a few quick tries, then give up cleanly.
  let lastError: DarajaError | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const ack = await daraja.stkPush({
        amount: req.amountKes, phone: req.phone, callbackUrl: callbackUrl(config, 'stk', id),
        accountReference, description: 'Descrow order',
      });
      failpoint('stk:after-daraja-ack');
      // The callback may have beaten us here ("delivered before the synchronous response").
      await pool.query(
        `UPDATE oracle.payment_requests
            SET status = CASE WHEN status='creating' THEN 'pending' ELSE status END,
                checkout_request_id=$2, merchant_request_id=$3, updated_at=now(),
                next_query_at = now() + ($4 || ' seconds')::interval
          WHERE id=$1`,
        [id, ack.CheckoutRequestID, ack.MerchantRequestID, String(config.ORACLE_STK_FIRST_QUERY_SECONDS)],
      );
      log.info({ orderId: req.orderId, checkoutRequestId: ack.CheckoutRequestID, amountKes: req.amountKes }, 'stk push accepted by daraja');
      return { ok: true, requestId: id, checkoutRequestId: ack.CheckoutRequestID, status: 'pending', customerMessage: ack.CustomerMessage, reused: false };
    } catch (err) {
      if (!(err instanceof DarajaError)) throw err;
      lastError = err;
      if (err.kind === 'retryable' && attempt < 2) {
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      break;
    }
  }
  const e = lastError!;
  if (e.kind === 'indeterminate') {
    // Daraja may have sent the push. Keep the row: its callback URL names this request.
    log.warn({ orderId: req.orderId, err: e.message }, 'stk push outcome unknown; waiting for a callback');
    await pool.query(`UPDATE oracle.payment_requests SET failure_reason=$2, updated_at=now() WHERE id=$1`, [id, e.message]);
    return { ok: true, requestId: id, checkoutRequestId: null, status: 'creating', reused: false };
  }
  await pool.query(`UPDATE oracle.payment_requests SET status='failed', failure_reason=$2, result_code=$3, updated_at=now() WHERE id=$1`, [id, e.message, e.errorCode ?? null]);
  log.warn({ orderId: req.orderId, err: e.message }, 'stk push refused');
  if (e.kind === 'retryable') return { ok: false, httpStatus: 503, code: 'DARAJA_UNAVAILABLE', message: 'M-Pesa is busy; try again in a minute' };
  return { ok: false, httpStatus: 422, code: 'DARAJA_REFUSED', message: e.errorMessage ?? e.message };
}
