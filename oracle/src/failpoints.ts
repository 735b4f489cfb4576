/**
 * Crash injection for the kill-mid-flight tests: when ORACLE_FAILPOINTS names a point,
 * the process SIGKILLs itself there — no cleanup, exactly like a power cut. Unset in
 * production; a no-op unless the variable is present.
 */
const points = new Set((process.env.ORACLE_FAILPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export type FailPoint = 'stk:after-daraja-ack' | 'callback:after-store' | 'outbox:after-broadcast' | 'payout:after-b2c-ack';

export function failpoint(name: FailPoint): void {
  if (points.size && points.has(name)) {
    process.stderr.write(`failpoint ${name}: killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
