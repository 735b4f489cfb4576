/**
 * Sends the chain transactions the ledger asked for, exactly once in effect.
 *
 * - One writer across all oracle instances: a Postgres advisory lock held for the
 *   worker's lifetime. Others stand by and take over if it dies.
 * - State-driven: before each step it reads the contract and decides what is still
 *   needed (create the order? record the payment? already done?), so a retry after a
 *   crash, a lost receipt or a second instance never records twice: the contract
 *   refuses a receipt it has seen, and we read that as "done".
 * - Explicit nonces; the signed transaction and its hash are stored *before* broadcast,
 *   so after a crash the same transaction is re-sent, never a new one for the same step.
 * - Pipelined: every due entry's next transaction is signed with consecutive nonces and
 *   broadcast in nonce order, then all receipts are awaited together, so throughput is
 *   not one block (or one receipt poll) per payment.
 * - Transient failures (RPC down, timeouts) retry with exponential backoff.
 */
import { BaseError, ContractFunctionRevertedError, encodeFunctionData, keccak256, type Hex } from 'viem';
import type { Pool } from 'pg';
import type { Logger } from '@descrow/common';
import { escrowAbi, orderIdFor } from '@descrow/contracts';
import type { EscrowChain } from './escrow';
import { failpoint } from '../failpoints';
import { HeldLock } from '../ledger/heldLock';
import { contextFrom, inSpan, REQUEST_ID_ATTRIBUTE, SpanKind, trace } from '@descrow/common';
import type { OracleMetrics } from '../metrics';

const tracer = trace.getTracer('descrow-oracle');

const Status = { None: 0, Created: 1 } as const;
const LOCK_KEY = 'descrow:oracle:outbox-writer';

export interface OutboxRow {
  id: string; idempotency_key: string; kind: 'record_payment' | 'record_payout'; order_id: Hex;
  payload: RecordPaymentPayload | RecordPayoutPayload; status: string; tx_hash: Hex | null; raw_tx: Hex | null; attempts: number;
}
/** The trace of the payment that led to a record: its W3C trace context and the API's request id. */
export interface TraceOrigin { traceparent?: string; tracestate?: string; requestId?: string }
export interface RecordPaymentPayload { salt: Hex; buyer: Hex; seller: Hex; amountKes: number; receiptHash: Hex; metadataCid: string; trace?: TraceOrigin }
export interface RecordPayoutPayload { beneficiary: Hex; amountKes: number; receiptHash: Hex; trace?: TraceOrigin }

type Step = { done: true } | { failed: string } | { call: { functionName: string; args: readonly unknown[] } };

export class OutboxWorker {
  private readonly lock: HeldLock;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly chain: EscrowChain,
    private readonly log: Logger,
    private readonly opts: { receiptTimeoutMs?: number; maxBackoffMs?: number; metrics?: OracleMetrics } = {},
  ) {
    this.lock = new HeldLock(pool, LOCK_KEY, log, 'outbox');
  }

  /** Try to be (or stay) the single writer. Returns false if another instance holds the lock. */
  async acquire(): Promise<boolean> {
    return this.lock.hold();
  }

  async release(): Promise<void> {
    this.stopped = true;
    await this.lock.release();
  }

  private inFlight: Promise<number> | null = null;
  private again = false;

  /**
   * Process every due entry once. Single-flight: a call while a pass is running asks for
   * one more pass right after it (a wake-up is never lost) and shares its promise.
   */
  tick(): Promise<number> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    const run = async () => {
      let total = 0;
      do {
        this.again = false;
        total += await this.pass();
      } while (this.again && !this.stopped);
      return total;
    };
    this.inFlight = run().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async pass(): Promise<number> {
    if (this.stopped || !(await this.acquire())) return 0;
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT * FROM oracle.outbox WHERE status IN ('pending','sent') AND next_attempt_at <= now() ORDER BY id LIMIT 100`,
    );
    let confirmed = 0;
    // Transactions from an earlier tick (or an earlier process): settle them one by one.
    for (const row of rows.filter((r) => r.status === 'sent' && r.tx_hash)) {
      if (this.stopped) return confirmed;
      try {
        if (await this.process(row)) confirmed++;
      } catch (err) {
        await this.backoff(row, err as Error);
      }
    }
    // New work: decide, sign with consecutive nonces, broadcast, await receipts together.
    let fresh = rows.filter((r) => r.status === 'pending');
    for (let round = 0; round < 3 && fresh.length && !this.stopped; round++) {
      const planned: { row: OutboxRow; call: { functionName: string; args: readonly unknown[] } }[] = [];
      await Promise.all(
        fresh.map(async (row) => {
          try {
            const step = await this.nextStep(row);
            if ('done' in step) {
              await this.markConfirmed(row);
              confirmed++;
            } else if ('failed' in step) {
              await this.markFailed(row, step.failed);
            } else {
              planned.push({ row, call: step.call });
            }
          } catch (err) {
            await this.backoff(row, err as Error);
          }
        }),
      );
      if (!planned.length) break;
      planned.sort((a, b) => Number(a.row.id) - Number(b.row.id));
      const sent = await this.sendBatch(planned);
      await this.awaitReceipts(sent);
      fresh = sent.map((s) => s.row); // re-read the contract: done, or the next step
    }
    return confirmed;
  }

  private async markConfirmed(row: OutboxRow): Promise<void> {
    await this.pool.query(`UPDATE oracle.outbox SET status='confirmed', confirmed_at=now(), last_error=NULL WHERE id=$1`, [row.id]);
    this.log.info({ outboxId: row.id, kind: row.kind, orderId: row.order_id, tx: row.tx_hash }, 'outbox: recorded on chain');
  }

  private async markFailed(row: OutboxRow, reason: string): Promise<void> {
    await this.pool.query(`UPDATE oracle.outbox SET status='failed', last_error=$2 WHERE id=$1`, [row.id, reason]);
    this.log.error({ outboxId: row.id, kind: row.kind, orderId: row.order_id, reason }, 'outbox: cannot record; needs a person');
  }

  /**
   * Estimate (in parallel), then sign with consecutive nonces and store each signed
   * transaction before broadcasting, in nonce order. A broadcast failure stops the batch:
   * later, never-broadcast transactions are forgotten so no nonce gap is left behind.
   */
  private async sendBatch(planned: { row: OutboxRow; call: { functionName: string; args: readonly unknown[] } }[]): Promise<{ row: OutboxRow; hash: Hex }[]> {
    const { pub, account, address } = this.chain;
    const estimated: { row: OutboxRow; data: Hex; gas: bigint; fn: string }[] = [];
    await Promise.all(
      planned.map(async ({ row, call }) => {
        const data = encodeFunctionData({ abi: escrowAbi, functionName: call.functionName, args: call.args } as never);
        try {
          // Never hard-coded: Polkadot Hub meters differently. A revert here names the reason.
          const gas = await pub.estimateGas({ account, to: address, data });
          estimated.push({ row, data, gas, fn: call.functionName });
        } catch (err) {
          await this.backoff(row, err as Error);
        }
      }),
    );
    if (!estimated.length) return [];
    estimated.sort((a, b) => Number(a.row.id) - Number(b.row.id));
    const [nonce0, fees] = await Promise.all([pub.getTransactionCount({ address: account.address, blockTag: 'pending' }), pub.estimateFeesPerGas()]);
    const signed: { row: OutboxRow; hash: Hex; raw: Hex; nonce: number; fn: string }[] = [];
    for (const [i, e] of estimated.entries()) {
      const nonce = nonce0 + i;
      const raw = await account.signTransaction({
        chainId: this.chain.chainId, type: 'eip1559', to: address, data: e.data, nonce, gas: (e.gas * 12n) / 10n,
        maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      signed.push({ row: e.row, hash: keccak256(raw), raw, nonce, fn: e.fn });
    }
    // Durable before broadcast: one statement for the whole batch.
    await this.pool.query(
      `UPDATE oracle.outbox o SET status='sent', nonce=v.nonce, tx_hash=v.hash, raw_tx=v.raw, sent_at=now(), attempts=o.attempts+1
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS v(id, nonce, hash, raw) WHERE o.id=v.id`,
      [signed.map((s) => s.row.id), signed.map((s) => s.nonce), signed.map((s) => s.hash), signed.map((s) => s.raw)],
    );
    const out: { row: OutboxRow; hash: Hex }[] = [];
    for (const [i, s] of signed.entries()) {
      try {
        await this.tracedBroadcast(s);
        this.log.info({ outboxId: s.row.id, orderId: s.row.order_id, nonce: s.nonce, tx: s.hash }, 'outbox: sent');
        Object.assign(s.row, { status: 'sent', tx_hash: s.hash, raw_tx: s.raw });
        out.push({ row: s.row, hash: s.hash });
        failpoint('outbox:after-broadcast');
      } catch (err) {
        const rest = signed.slice(i);
        await this.pool.query(`UPDATE oracle.outbox SET status='pending', tx_hash=NULL, raw_tx=NULL, nonce=NULL WHERE id = ANY($1::bigint[])`, [rest.map((r) => r.row.id)]);
        for (const r of rest) await this.backoff(r.row, err as Error);
        break;
      }
    }
    return out;
  }

  /** Poll all receipts together; whatever is not mined in time stays `sent` for the next tick. */
  private async awaitReceipts(sent: { row: OutboxRow; hash: Hex }[]): Promise<void> {
    const waiting = new Map(sent.map((s) => [s.hash, s.row]));
    const until = Date.now() + (this.opts.receiptTimeoutMs ?? 30_000);
    while (waiting.size && Date.now() < until && !this.stopped) {
      await Promise.all(
        [...waiting].map(async ([hash, row]) => {
          const r = await this.chain.pub.getTransactionReceipt({ hash }).catch(() => null);
          if (!r) return;
          waiting.delete(hash);
          await this.pool.query(`UPDATE oracle.outbox SET block_number=$2 WHERE id=$1`, [row.id, Number(r.blockNumber)]);
          if (r.status === 'reverted') this.log.warn({ outboxId: row.id, tx: hash }, 'outbox: transaction reverted; re-reading the contract');
        }),
      );
      if (waiting.size) await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async process(row: OutboxRow): Promise<boolean> {
    // A transaction we signed and may have broadcast before: settle it first.
    if (row.status === 'sent' && row.tx_hash) {
      const settled = await this.settleSent(row);
      if (!settled) return false;
    }
    // At most three steps (create, record, confirm) per entry.
    for (let i = 0; i < 3; i++) {
      const step = await this.nextStep(row);
      if ('done' in step) {
        await this.markConfirmed(row);
        return true;
      }
      if ('failed' in step) {
        await this.markFailed(row, step.failed);
        return false;
      }
      const [sent] = await this.sendBatch([{ row, call: step.call }]);
      if (!sent) return false;
      if (!(await this.settleSent(row))) return false;
    }
    return false;
  }

  /** Decide from the contract's current state what, if anything, is still needed. */
  private async nextStep(row: OutboxRow): Promise<Step> {
    const orderId = row.order_id;
    const o = await this.chain.getOrder(orderId);
    if (row.kind === 'record_payment') {
      const p = row.payload as RecordPaymentPayload;
      if (o.status === Status.None) {
        // The contract derives the id from our address and the salt; an id we cannot create
        // (a request taken before the oracle's key changed) would land elsewhere: a person decides.
        if (orderIdFor(this.chain.account.address, p.salt).toLowerCase() !== orderId.toLowerCase()) {
          return { failed: 'the order id is not this oracle\'s orderIdFor(salt): the payment must be refunded' };
        }
        // Create and fund in one transaction (same events as the two-step path).
        return { call: { functionName: 'createPaidOffchainOrder', args: [p.salt, p.buyer, p.seller, BigInt(p.amountKes), p.metadataCid, p.receiptHash] } };
      }
      if (o.paymentReceipt.toLowerCase() === p.receiptHash.toLowerCase()) return { done: true };
      if (o.status === Status.Created) {
        if (o.mode !== 1 || o.amount !== BigInt(p.amountKes)) return { failed: `order on chain does not match the payment (mode ${o.mode}, amount ${o.amount})` };
        const used = await this.chain.receiptOrder(p.receiptHash);
        if (used !== `0x${'0'.repeat(64)}`) return { failed: `receipt already funded order ${used}` };
        return { call: { functionName: 'recordOffchainPayment', args: [orderId, p.receiptHash, BigInt(p.amountKes)] } };
      }
      return { failed: `order is in status ${o.status} with another payment receipt: this payment must be refunded` };
    }
    const p = row.payload as RecordPayoutPayload;
    const recordedFor = await this.chain.receiptOrder(p.receiptHash);
    if (recordedFor.toLowerCase() === orderId.toLowerCase()) return { done: true };
    if (recordedFor !== `0x${'0'.repeat(64)}`) return { failed: `payout receipt already recorded for order ${recordedFor}` };
    const due = p.beneficiary.toLowerCase() === o.seller.toLowerCase() ? o.sellerPayoutDue : p.beneficiary.toLowerCase() === o.buyer.toLowerCase() ? o.buyerRefundDue : false;
    if (!due) return { failed: 'no payout due to this beneficiary on chain' };
    return { call: { functionName: 'recordPayout', args: [orderId, p.beneficiary, p.receiptHash, BigInt(p.amountKes)] } };
  }

  /**
   * Broadcast in a span that joins the trace of the payment behind the record (kept in the
   * payload since the API's request), carrying its request id; counted by function and result.
   */
  private async tracedBroadcast(s: { row: OutboxRow; hash: Hex; raw: Hex; nonce: number; fn: string }): Promise<void> {
    const origin = s.row.payload.trace;
    const parent = origin?.traceparent ? contextFrom({ traceparent: origin.traceparent, tracestate: origin.tracestate }) : undefined;
    try {
      await inSpan(tracer, `chain ${s.fn}`, {
        [REQUEST_ID_ATTRIBUTE]: origin?.requestId, 'descrow.outbox_id': s.row.id, 'descrow.order_id': s.row.order_id, 'chain.tx_hash': s.hash, 'chain.nonce': s.nonce,
      }, () => this.broadcast(s.raw), SpanKind.CLIENT, parent);
      this.opts.metrics?.chainTransactions.inc({ function: s.fn, result: 'sent' });
    } catch (err) {
      this.opts.metrics?.chainTransactions.inc({ function: s.fn, result: 'broadcast_failed' });
      throw err;
    }
  }

  private async broadcast(raw: Hex): Promise<void> {
    try {
      await this.chain.pub.sendRawTransaction({ serializedTransaction: raw });
    } catch (err) {
      const msg = (err as Error).message.toLowerCase();
      // Already in the pool or already mined: the receipt wait decides.
      if (msg.includes('already known') || msg.includes('nonce too low') || msg.includes('already imported')) return;
      throw err;
    }
  }

  /**
   * Wait for the stored transaction. true = mined (success or a revert we re-evaluate);
   * false = not settled yet (it will be retried later with the same signed tx).
   */
  private async settleSent(row: OutboxRow): Promise<boolean> {
    const hash = row.tx_hash!;
    let receipt = await this.chain.pub.getTransactionReceipt({ hash }).catch(() => null);
    if (!receipt && row.raw_tx) {
      await this.broadcast(row.raw_tx).catch((e: Error) => this.log.warn({ outboxId: row.id, err: e.message }, 'outbox: rebroadcast failed'));
      receipt = await this.chain.pub
        .waitForTransactionReceipt({ hash, timeout: this.opts.receiptTimeoutMs ?? 30_000, pollingInterval: 25 })
        .catch(() => null);
    }
    if (!receipt) {
      // Not mined. If our nonce was used by another transaction, this one can never be mined: rebuild.
      const onChainNonce = await this.chain.pub.getTransactionCount({ address: this.chain.account.address, blockTag: 'latest' });
      const { rows } = await this.pool.query<{ nonce: string }>('SELECT nonce FROM oracle.outbox WHERE id=$1', [row.id]);
      if (rows[0] && BigInt(onChainNonce) > BigInt(rows[0].nonce)) {
        this.log.warn({ outboxId: row.id, tx: hash }, 'outbox: nonce consumed by another transaction; re-evaluating');
        await this.pool.query(`UPDATE oracle.outbox SET status='pending', tx_hash=NULL, raw_tx=NULL WHERE id=$1`, [row.id]);
        row.status = 'pending';
        return true;
      }
      throw new Error(`transaction ${hash} not mined yet`);
    }
    await this.pool.query(`UPDATE oracle.outbox SET block_number=$2 WHERE id=$1`, [row.id, Number(receipt.blockNumber)]);
    if (receipt.status === 'reverted') this.log.warn({ outboxId: row.id, tx: hash }, 'outbox: transaction reverted; re-reading the contract');
    return true;
  }

  private async backoff(row: OutboxRow, err: Error): Promise<void> {
    const reason = revertName(err) ?? err.message.split('\n')[0]!.slice(0, 500);
    const delay = Math.min(this.opts.maxBackoffMs ?? 60_000, 500 * 2 ** Math.min(row.attempts, 10));
    await this.pool
      .query(`UPDATE oracle.outbox SET attempts=attempts+1, last_error=$2, next_attempt_at=now() + ($3 || ' milliseconds')::interval WHERE id=$1`, [row.id, reason, String(delay)])
      .catch(() => undefined);
    this.log.warn({ outboxId: row.id, kind: row.kind, orderId: row.order_id, err: reason, retryInMs: delay }, 'outbox: transient failure; will retry');
  }
}

export function revertName(err: unknown): string | undefined {
  if (err instanceof BaseError) {
    const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (r instanceof ContractFunctionRevertedError) return r.data?.errorName;
  }
  return undefined;
}
