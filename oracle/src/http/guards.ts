import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison (hash first so lengths never leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * The address a callback really came from: the socket peer, or the first untrusted hop of
 * X-Forwarded-For when (and only when) the peer is one of our own proxies.
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trustedProxies: string[]): string {
  const norm = (ip: string) => ip.replace(/^::ffff:/, '').trim();
  let addr = norm(peer);
  if (!forwardedFor || !trustedProxies.includes(addr)) return addr;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map(norm).filter(Boolean);
  // Walk from the nearest hop back; stop at the first address that is not ours.
  for (let i = hops.length - 1; i >= 0; i--) {
    addr = hops[i]!;
    if (!trustedProxies.includes(addr)) break;
  }
  return addr;
}

/** Daraja's deepest callback is about six levels (Result.ResultParameters.ResultParameter[i].Value). */
export const MAX_CALLBACK_DEPTH = 32;

/**
 * Why a parsed callback body cannot be stored as it is, or null. Postgres' jsonb refuses a
 * NUL character and runs out of stack on deep nesting (so does JSON.stringify): both are
 * refused up front as the client's mistake. Walked without recursion, so depth cannot hurt it.
 */
export function unstorableBody(body: unknown): string | null {
  const stack: [unknown, number][] = [[body, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'the body contains a NUL character (\\u0000)';
    } else if (v && typeof v === 'object') {
      if (depth > MAX_CALLBACK_DEPTH) return `the body is nested more than ${MAX_CALLBACK_DEPTH} levels deep`;
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000')) return 'the body contains a NUL character (\\u0000)';
        stack.push([child, depth + 1]);
      }
    }
  }
  return null;
}
