import { createHash, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Logger } from '@descrow/common';

export interface TokenSource { fetchToken(): Promise<{ token: string; expiresInSeconds: number }> }

/**
 * Daraja access token shared by every oracle instance through Redis. Refreshed
 * `refreshMarginSeconds` before expiry; one refresh at a time across instances
 * (SET NX lock); others wait for the new token instead of stampeding OAuth, which
 * may invalidate the previous token (docs/daraja.md §1).
 */
export class SharedTokenCache {
  private readonly key: string;
  private readonly lockKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly source: TokenSource,
    private readonly log: Logger,
    identity: string,
    private readonly refreshMarginSeconds = 120,
    private readonly now: () => number = Date.now,
  ) {
    const id = createHash('sha256').update(identity).digest('hex').slice(0, 16);
    this.key = `descrow:daraja:token:${id}`;
    this.lockKey = `${this.key}:refresh-lock`;
  }

  async get(): Promise<string> {
    const cached = await this.read();
    if (cached && cached.expiresAt - this.refreshMarginSeconds * 1000 > this.now()) return cached.token;
    return this.refresh(cached?.token);
  }

  /** Forget the cached token (operators: after rotating the consumer secret). */
  async forget(): Promise<void> {
    await this.redis.del(this.key);
  }

  /** Drop `token` (only if it is still the cached one) and fetch a new one. */
  async invalidate(token: string): Promise<string> {
    const cached = await this.read();
    if (cached && cached.token !== token) return cached.token; // someone already refreshed
    return this.refresh(token);
  }

  private async read(): Promise<{ token: string; expiresAt: number } | null> {
    const raw = await this.redis.get(this.key);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as { token: string; expiresAt: number };
    } catch {
      return null;
    }
  }

  private async refresh(stale: string | undefined): Promise<string> {
    const owner = randomUUID();
    for (let waited = 0; waited < 15_000; waited += 100) {
      const locked = await this.redis.set(this.lockKey, owner, 'PX', 10_000, 'NX');
      if (locked === 'OK') {
        try {
          // Another instance may have refreshed between our read and the lock.
          const cached = await this.read();
          if (cached && cached.token !== stale && cached.expiresAt - this.refreshMarginSeconds * 1000 > this.now()) return cached.token;
          const { token, expiresInSeconds } = await this.source.fetchToken();
          const expiresAt = this.now() + expiresInSeconds * 1000;
          await this.redis.set(this.key, JSON.stringify({ token, expiresAt }), 'PX', Math.max(1_000, expiresInSeconds * 1000));
          this.log.info({ expiresInSeconds }, 'daraja access token refreshed');
          return token;
        } finally {
          if ((await this.redis.get(this.lockKey)) === owner) await this.redis.del(this.lockKey);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
      const cached = await this.read();
      if (cached && cached.token !== stale && cached.expiresAt > this.now()) return cached.token;
    }
    throw new Error('timed out waiting for another instance to refresh the Daraja token');
  }
}
