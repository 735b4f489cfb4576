/**
 * Reads the oracle's ledger rows for an order's history (Postgres schema `oracle`,
 * read-only): what the oracle did about M-Pesa payments and payouts. The chain decides an
 * order's status, never this. Anything that needs the ledger's *rules* (reconciliation,
 * receipt keys, refund cases) asks the oracle instead (data/oracleClient.ts).
 */
import type { Pool } from 'pg';

export interface LedgerPayment {
  orderId: string; status: string; checkoutRequestId: string | null; receipt: string | null; amountKes: number;
  paidAmount: number | null; phone: string; failureReason: string | null; createdAt: Date; paidAt: Date | null; updatedAt: Date;
}
export interface LedgerPayout {
  orderId: string; role: string; beneficiary: string; amountKes: number; status: string; receipt: string | null; reason: string | null;
  resultCode: string | null; attempt: number; phone: string; createdAt: Date; updatedAt: Date; completedAt: Date | null;
}

const PAYMENT_COLS = `order_id AS "orderId", status, checkout_request_id AS "checkoutRequestId", mpesa_receipt AS receipt,
  amount_kes AS "amountKes", paid_amount AS "paidAmount", phone, failure_reason AS "failureReason", created_at AS "createdAt",
  paid_at AS "paidAt", updated_at AS "updatedAt"`;
const PAYOUT_COLS = `order_id AS "orderId", role, beneficiary, amount_kes AS "amountKes", status, mpesa_receipt AS receipt, reason,
  result_code AS "resultCode", attempt, phone, created_at AS "createdAt", updated_at AS "updatedAt", completed_at AS "completedAt"`;

export class LedgerReader {
  constructor(private readonly pool: Pool, private readonly schema: string) {}

  private t(table: string): string {
    return `"${this.schema}".${table}`;
  }

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query(sql, params)).rows as T[];
    } catch (e) {
      // The oracle has not migrated its schema yet (fresh install): nothing recorded.
      if ((e as { code?: string }).code === '42P01' || (e as { code?: string }).code === '3F000') return [];
      throw e;
    }
  }

  /** Every payment request of these orders, oldest first. */
  paymentsByOrderIds(ids: readonly string[]): Promise<LedgerPayment[]> {
    return this.rows(`SELECT ${PAYMENT_COLS} FROM ${this.t('payment_requests')} WHERE order_id = ANY($1) ORDER BY created_at`, [ids]);
  }

  payoutsByOrderIds(ids: readonly string[]): Promise<LedgerPayout[]> {
    return this.rows(`SELECT ${PAYOUT_COLS} FROM ${this.t('payouts')} WHERE order_id = ANY($1) ORDER BY created_at`, [ids]);
  }

  /** A buyer's M-Pesa payment requests, newest first (cursor: created_at of the last row seen). */
  paymentsByBuyer(buyer: string, limit: number, before?: Date): Promise<LedgerPayment[]> {
    return this.rows(
      `SELECT ${PAYMENT_COLS} FROM ${this.t('payment_requests')} WHERE lower(buyer) = $1 AND ($2::timestamptz IS NULL OR created_at < $2) ORDER BY created_at DESC LIMIT $3`,
      [buyer, before ?? null, limit],
    );
  }

  /** The M-Pesa payouts and refunds sent to a beneficiary, newest first. */
  payoutsByBeneficiary(beneficiary: string, limit: number, before?: Date): Promise<LedgerPayout[]> {
    return this.rows(
      `SELECT ${PAYOUT_COLS} FROM ${this.t('payouts')} WHERE lower(beneficiary) = $1 AND ($2::timestamptz IS NULL OR created_at < $2) ORDER BY created_at DESC LIMIT $3`,
      [beneficiary, before ?? null, limit],
    );
  }
}
