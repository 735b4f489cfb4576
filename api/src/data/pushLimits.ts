/**
 * Limits on M-Pesa prompts (payWithMpesa): per phone number, per order and per user, so the
 * API cannot be used to spam a phone with PIN prompts, nor to keep prompting a stranger
 * until they fund someone else's order by reflex (../limits/limiter: Redis when REDIS_URL
 * is set, so every API instance shares the counts; memory otherwise and while Redis is down).
 */
import type Redis from 'ioredis';
import { Limit } from '../limits/limiter';

export type PushLimitKind = 'PHONE' | 'ORDER' | 'USER';
export interface PushLimitSettings { perPhone: number; perOrder: number; perUser: number; windowSeconds: number }
export type PushVerdict = { ok: true } | { ok: false; kind: PushLimitKind; limit: number; retryAfterSeconds: number };

export class PushLimits {
  private readonly limits: Record<PushLimitKind, Limit>;

  constructor(s: PushLimitSettings, redis: Redis | null, prefix: string) {
    const make = (kind: PushLimitKind, points: number) => new Limit({ points, windowSeconds: s.windowSeconds, keyPrefix: `${prefix}mpesa-push:${kind.toLowerCase()}` }, redis);
    this.limits = { PHONE: make('PHONE', s.perPhone), ORDER: make('ORDER', s.perOrder), USER: make('USER', s.perUser) };
  }

  /** Counts one prompt against each limit; the first limit already used up is reported. */
  async take(keys: Record<PushLimitKind, string>): Promise<PushVerdict> {
    for (const kind of ['PHONE', 'ORDER', 'USER'] as const) {
      const v = await this.limits[kind].take(keys[kind]);
      if (!v.ok) return { ...v, kind };
    }
    return { ok: true };
  }
}
