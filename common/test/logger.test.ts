/** Logs: readable lines for a developer, JSON for machines, secrets redacted either way. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function logLine(env: Record<string, string>): string {
  const script = `require('tsx/cjs'); const { createLogger } = require(${JSON.stringify(join(__dirname, '../src/logger.ts'))}); createLogger('oracle', 'info').info({ port: 4100, token: 'do-not-print' }, 'oracle ready');`;
  const { NODE_ENV: _n, LOG_FORMAT: _f, ...rest } = process.env;
  return execFileSync(process.execPath, ['-e', script], { env: { ...rest, ...env }, encoding: 'utf8' }).trim();
}

test('development (the default) prints one readable line per entry with pino-pretty', () => {
  for (const env of [{}, { NODE_ENV: 'development' }, { NODE_ENV: 'production', LOG_FORMAT: 'pretty' }] as Record<string, string>[]) {
    const line = logLine(env);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(oracle\): oracle ready \{"port":4100,"token":"\[redacted\]"\}$/);
  }
});

test('production and tests print JSON lines with the service name; secrets are redacted', () => {
  for (const env of [{ NODE_ENV: 'production' }, { NODE_ENV: 'test' }, { LOG_FORMAT: 'json' }] as Record<string, string>[]) {
    const entry = JSON.parse(logLine(env));
    expect(entry).toMatchObject({ level: 30, service: 'oracle', port: 4100, token: '[redacted]', msg: 'oracle ready' });
  }
});
