/** The oracle's internal HTTP API (service token): STK Push requests and health. */
export interface StkRequest {
  /** The order id and the salt the oracle creates it with (orderId = Escrow.orderIdFor(oracle, salt)). */
  orderId: string; salt: string; buyer: string; seller: string; amountKes: number; phone: string; sellerPhone: string; metadataCid?: string;
}
export type StkResult =
  | { ok: true; requestId: string; checkoutRequestId: string | null; status: string }
  | { ok: false; httpStatus: number; code: string; message: string };

export class OracleClient {
  constructor(private readonly baseUrl: string, private readonly token: string, private readonly timeoutMs: number) {}

  async requestStk(req: StkRequest, requestId?: string): Promise<StkResult> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/internal/stk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}`, ...(requestId ? { 'x-request-id': requestId } : {}) },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return { ok: false, httpStatus: 503, code: 'ORACLE_UNREACHABLE', message: `the payment service did not answer (${(e as Error).name})` };
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) {
      return { ok: true, requestId: String(body.requestId), checkoutRequestId: (body.checkoutRequestId as string | null) ?? null, status: String(body.status) };
    }
    const err = (body.error ?? {}) as { code?: string; message?: string };
    return { ok: false, httpStatus: res.status, code: err.code ?? 'ORACLE_ERROR', message: err.message ?? `the payment service answered ${res.status}` };
  }

  async health(): Promise<boolean> {
    const res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.status < 500;
  }
}
