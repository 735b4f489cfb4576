module.exports = async function globalTeardown() {
  const pg = globalThis.__DESCROW_EMBEDDED_PG__;
  if (pg) await pg.stop();
  const redis = globalThis.__DESCROW_REDIS__;
  if (redis) redis.kill('SIGTERM');
};
