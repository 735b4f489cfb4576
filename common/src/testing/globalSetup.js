/**
 * Runs once before all jest projects. Tests need a real Postgres and a real Redis:
 * - DATABASE_URL set: use it; unset: start the embedded Postgres (data in .data/test-pg).
 * - REDIS_URL set: use it; unset: start a throwaway `redis-server` on a free port when the
 *   binary is installed (Debian's redis-server), else leave it unset (in-memory stand-in).
 * The URLs reach every worker through the environment.
 */
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
require('tsx/cjs');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  return null;
}

module.exports = async function globalSetup() {
  process.env.TZ = 'UTC';
  require('../runtime.ts').warnIfEndOfLife();
  if (!process.env.DATABASE_URL) {
    const { startEmbeddedPostgres } = require('../embeddedPostgres.ts');
    const root = path.resolve(__dirname, '../../..');
    const handle = await startEmbeddedPostgres(path.join(root, '.data/test-pg'), Number(process.env.TEST_PG_PORT || 54329)).catch((err) => {
      process.stderr.write(`npm test: ${err.message}\n`); // one line, not a stack
      process.exit(1);
    });
    process.env.DATABASE_URL = handle.url;
    globalThis.__DESCROW_EMBEDDED_PG__ = handle;
  }
  if (!process.env.REDIS_URL) {
    const redis = await startRedis();
    if (redis) {
      process.env.REDIS_URL = redis.url;
      globalThis.__DESCROW_REDIS__ = redis.child;
    }
  }
};
