import Redis from 'ioredis';

/**
 * Redis from REDIS_URL, or an in-memory stand-in (one process only) when unset. A command
 * that has no answer within `timeoutMs` fails (ioredis' commandTimeout, queued commands
 * too), so a Redis that is down or hung costs a request at most that long; callers that
 * can go on without Redis check `status === 'ready'` first and do not wait at all.
 */
export function createRedis(url: string | undefined, timeoutMs = 250): Redis {
  if (url) return new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: timeoutMs, enableAutoPipelining: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RedisMock = require('ioredis-mock') as typeof Redis;
  return new RedisMock();
}

/** Whether a command sent now would go out at once (not queued behind a reconnect). */
export const redisReady = (redis: Redis): boolean => redis.status === 'ready';
