import type { Logger } from '@descrow/common';
import type { Delivery } from './rules';

/**
 * Sends callbacks the way Daraja does: a plain JSON POST, no signature, no auth
 * header, no retry when it fails (docs/daraja.md §6, §7). Delivery modes add the real
 * world's misbehaviour: late, missing, duplicated, ahead of the synchronous answer.
 */
export type CallbackKind = 'stk' | 'b2c_result' | 'b2c_timeout' | 'status_result' | 'status_timeout' | 'c2b_validation' | 'c2b_confirmation';

export interface CallbackMessage {
  kind: CallbackKind;
  /** CheckoutRequestID or OriginatorConversationID this callback is about. */
  ref: string;
  url: string;
  /** Serialised JSON, so numbers can be written as Daraja writes them (`1.00`). */
  body: string;
}

export interface CallbackRecord {
  id: number;
  kind: CallbackKind;
  ref: string;
  url: string;
  body: unknown;
  mode: Delivery['mode'];
  copy: number;
  /** true when the mode is `never`: recorded so tests can see what was withheld. */
  suppressed: boolean;
  sentAt?: string;
  status?: number;
  error?: string;
  durationMs?: number;
}

export class CallbackSender {
  readonly records: CallbackRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<unknown>>();
  private abort = new AbortController();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Delivers `message` per `delivery`. The promise settles when what the mode sends
   * "now" has been answered (nothing for delayed/never), so `before_response` and the
   * control API can wait for it. Never rejects: a failed delivery is logged and recorded.
   */
  deliver(delivery: Delivery, message: CallbackMessage, defaults: { delayMs: number; copies: number }): Promise<void> {
    const copies = delivery.copies ?? defaults.copies;
    switch (delivery.mode) {
      case 'never':
        this.record(message, delivery.mode, 1, true);
        this.logger.info({ kind: message.kind, ref: message.ref, url: message.url }, 'callback withheld (mode never)');
        return Promise.resolve();
      case 'delayed':
        this.later(delivery.delayMs ?? defaults.delayMs, () => this.post(message, delivery.mode, 1));
        return Promise.resolve();
      case 'duplicated':
        return this.track(
          (async () => {
            for (let copy = 1; copy <= Math.max(2, copies); copy++) await this.post(message, delivery.mode, copy);
          })(),
        );
      default:
        return this.track(this.post(message, delivery.mode, 1));
    }
  }

  /**
   * A callback whose answer matters (C2B validation): posts it once and returns the
   * answer's `ResultCode` ("0" accepts), or null when it failed or said nothing readable.
   */
  async ask(message: CallbackMessage): Promise<string | null> {
    if (this.closed) return null;
    const rec = this.record(message, 'normal', 1, false);
    rec.sentAt = new Date().toISOString();
    try {
      const res = await fetch(message.url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: message.body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      rec.status = res.status;
      const answer = (await res.json().catch(() => null)) as { ResultCode?: unknown } | null;
      return res.ok && answer && answer.ResultCode !== undefined ? String(answer.ResultCode) : null;
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      return null;
    }
  }

  /** Runs `fn` after `ms`; forgotten on close(). */
  later(ms: number, fn: () => unknown): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.track(Promise.resolve().then(fn));
    }, ms);
    this.timers.add(timer);
  }

  /** Stops timers, aborts deliveries in flight and waits for them to settle. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
  }

  /** Forget history and pending timers (control API reset); the sender stays usable. */
  async reset(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
    this.abort = new AbortController();
    this.records.length = 0;
  }

  private track<T>(p: Promise<T>): Promise<void> {
    const done = p.then(
      () => undefined,
      (err: unknown) => this.logger.error({ err }, 'callback task failed'),
    );
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
    return done;
  }

  private record(message: CallbackMessage, mode: Delivery['mode'], copy: number, suppressed: boolean): CallbackRecord {
    const rec: CallbackRecord = {
      id: this.records.length + 1,
      kind: message.kind,
      ref: message.ref,
      url: message.url,
      body: JSON.parse(message.body) as unknown,
      mode,
      copy,
      suppressed,
    };
    this.records.push(rec);
    return rec;
  }

  private async post(message: CallbackMessage, mode: Delivery['mode'], copy: number): Promise<void> {
    if (this.closed) return;
    const rec = this.record(message, mode, copy, false);
    const started = Date.now();
    rec.sentAt = new Date(started).toISOString();
    try {
      const res = await fetch(message.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: message.body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      rec.status = res.status;
      await res.arrayBuffer().catch(() => undefined); // drain so the socket is reused
    } catch (err) {
      // fetch hides the reason (ECONNREFUSED, timeout) in `cause`.
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${(err.cause as Error & { code?: string }).code ?? err.cause.message}` : '';
      rec.error = err instanceof Error ? `${err.message}${cause}` : String(err);
    }
    rec.durationMs = Date.now() - started;
    this.logger.info(
      { kind: rec.kind, ref: rec.ref, url: rec.url, mode, copy, status: rec.status, error: rec.error, ms: rec.durationMs },
      rec.error ? 'callback failed (Daraja does not retry)' : 'callback sent',
    );
    this.logger.debug({ kind: rec.kind, ref: rec.ref, body: rec.body }, 'callback body');
  }
}
