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
