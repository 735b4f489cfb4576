import Redis from 'ioredis';

/** Redis from REDIS_URL, or an in-memory stand-in (one process only) when unset. */
export function createRedis(url: string | undefined): Redis {
  if (url) return new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RedisMock = require('ioredis-mock') as typeof Redis;
  return new RedisMock();
}
