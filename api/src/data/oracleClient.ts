/**
 * The oracle's internal HTTP API (service token): STK Push requests, health, and what the
 * oracle publishes about its ledger (reconciliation facts with the chain receipt hashes it
 * records under, receipt look-ups, refund-needed cases). The oracle owns its ledger's
 * rules; the API asks instead of re-deriving them.
 */
import { inSpan, REQUEST_ID_ATTRIBUTE, SpanKind, trace as otel, traceHeaders, type Context as TraceContext } from '@descrow/common';

const tracer = otel.getTracer('descrow-api');

export interface StkRequest {
  /** The order id and the salt the oracle creates it with (orderId = Escrow.orderIdFor(oracle, salt)). */
  orderId: string; salt: string; buyer: string; seller: string; amountKes: number; phone: string; sellerPhone: string; metadataCid?: string;
}
export type StkResult =
  | { ok: true; requestId: string; checkoutRequestId: string | null; status: string }
  | { ok: false; httpStatus: number; code: string; message: string };

export class OracleClient {
  constructor(private readonly baseUrl: string, private readonly token: string, private readonly timeoutMs: number) {}

  /** Ask for an STK push; the call is a client span of `trace` (the GraphQL request's), its traceparent sent along. */
  requestStk(req: StkRequest, requestId?: string, trace?: TraceContext): Promise<StkResult> {
    return inSpan(tracer, 'oracle POST /internal/stk', { [REQUEST_ID_ATTRIBUTE]: requestId, 'http.request.method': 'POST' }, async (span) => {
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/internal/stk`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}`, ...(requestId ? { 'x-request-id': requestId } : {}), ...traceHeaders() },
          body: JSON.stringify(req),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        return { ok: false, httpStatus: 503, code: 'ORACLE_UNREACHABLE', message: `the payment service did not answer (${(e as Error).name})` } as const;
      }
      span.setAttribute('http.response.status_code', res.status);
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.ok) {
        return { ok: true, requestId: String(body.requestId), checkoutRequestId: (body.checkoutRequestId as string | null) ?? null, status: String(body.status) } as const;
      }
      const err = (body.error ?? {}) as { code?: string; message?: string };
      return { ok: false, httpStatus: res.status, code: err.code ?? 'ORACLE_ERROR', message: err.message ?? `the payment service answered ${res.status}` } as const;
    }, SpanKind.CLIENT, trace);
  }

  async ledgerReconciliation(input: { from: Date; to: Date; fundedOrderIds: string[]; owingOrderIds: string[] }): Promise<LedgerReconciliation> {
    return this.call('POST', '/internal/ledger/reconciliation', input);
  }

  async receipt(receipt: string): Promise<ReceiptFacts> {
    return this.call('GET', `/internal/receipts/${encodeURIComponent(receipt)}`);
  }

  async refundCases(status: 'open' | 'refunded' | 'dismissed' | 'all'): Promise<RefundCaseFacts[]> {
    return (await this.call<{ cases: RefundCaseFacts[] }>('GET', `/internal/refund-cases?status=${status}`)).cases;
  }

  /** Payouts waiting for a person (needs_attention, overpaid). */
  async attentionPayouts(): Promise<AttentionPayout[]> {
    return (await this.call<{ payouts: AttentionPayout[] }>('GET', '/internal/payouts/attention')).payouts;
  }

  async payoutStats(from: Date, to: Date): Promise<{ attempts: number; paid: number; finished: number; successRate: number | null }> {
    return this.call('GET', `/internal/payouts/stats?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
  }

  /** Ask the oracle to act on a payout; its refusal (4xx with a reason) comes back as a value, not an error. */
  async payoutAction(id: string, action: 'retry' | 'settle', body: Record<string, string>): Promise<ActionAnswer<PayoutActionFacts>> {
    return this.act(`/internal/payouts/${encodeURIComponent(id)}/${action}`, body);
  }

  /** Close an open refund case (refunded outside, or dismissed) with a note; a case not open comes back as a refusal. */
  async closeRefundCase(id: string, status: 'refunded' | 'dismissed', note: string): Promise<ActionAnswer<{ id: string; status: string }>> {
    return this.act(`/internal/refund-cases/${encodeURIComponent(id)}`, { status, note });
  }

  /** POST an action: the answer, or the oracle's refusal (4xx with a code) as a value; 5xx and 401 are the oracle's trouble. */
  private async act<T>(path: string, body: Record<string, string>): Promise<ActionAnswer<T>> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/$/, '')}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new OracleUnavailable(`the payment service did not answer (${(e as Error).name})`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) return { ok: true, result: json as unknown as T };
    if (res.status >= 500 || res.status === 401) throw new OracleUnavailable(`the payment service answered ${res.status}`);
    const err = (json.error ?? {}) as { code?: string; message?: string };
    return { ok: false, status: res.status, code: err.code ?? 'REFUSED', message: err.message ?? `the payment service answered ${res.status}` };
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/$/, '')}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new OracleUnavailable(`the payment service did not answer (${(e as Error).name})`);
    }
    if (!res.ok) throw new OracleUnavailable(`the payment service answered ${res.status}`);
    return (await res.json()) as T;
  }

  async health(): Promise<boolean> {
    const res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.status < 500;
  }
}

export interface AttentionPayout {
  id: string; orderId: string; role: string; beneficiary: string; phone: string; amountKes: number; attempt: number; status: string;
  reason: string | null; hint: string | null; resultCode: string | null; receipt: string | null; createdAt: string; updatedAt: string;
}
export interface PayoutActionFacts { outcome: 'retried' | 'verifying' | 'settled'; reason?: string; payoutId?: string; attempt?: number; receiptHash?: string }

export class OracleUnavailable extends Error {
  readonly code = 'ORACLE_UNAVAILABLE';
}

export interface LedgerPaid { orderId: string; receipt: string | null; receiptHash: string; amountKes: number; paidAt: string; phone: string; outboxStatus: string | null }
export type ActionAnswer<T> = { ok: true; result: T } | { ok: false; status: number; code: string; message: string };

export interface RefundCaseFacts {
  id: string; kind: string; orderId: string | null; requestId: string | null; receipt: string | null; phone: string | null; amountKes: number;
  reason: string; status: string; note: string | null; createdAt: string; resolvedAt: string | null;
}
export interface LedgerReconciliation {
  paid: LedgerPaid[];
  paidForFunded: LedgerPaid[];
  payouts: { orderId: string; role: string; status: string }[];
  /** Payout problems now, one per order and role (the oracle's flows/payoutFindings): `reason` names every receipt. */
  failedPayouts: { orderId: string; role: string; kind: string; amountKes: number; status: string; reason: string | null; resultCode: string | null; attempt: number; updatedAt: string }[];
  collectedPerDay: Record<string, string>;
  refundCases: RefundCaseFacts[];
  oracleFindings: { kind: string; orderId: string; role?: string; detail: string }[];
  oracleFindingsAt: string | null;
}
export interface ReceiptFacts {
  receipt: string; receiptHash: string; kind: 'PAYMENT' | 'PAYOUT' | null; orderId?: string; ledgerStatus?: string; amountKes?: number; phone?: string; at?: string | null;
}
