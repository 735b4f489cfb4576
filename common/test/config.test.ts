import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, env, parseEnv, sharedEnvShape } from '../src/config';
import { isAnvilKey, isDarajaSimulator, isDevelopment, isLocalhost, refuseUnsafe, rules } from '../src/safety';
import { warnIfEndOfLife } from '../src/runtime';

test('defaults apply, values are coerced, and empty strings count as unset', () => {
  const cfg = parseEnv({ PORT: env.port(4000), FLAG: env.bool(false), LIST: env.list() }, { PORT: '4100', FLAG: 'yes', LIST: ' a, b ,,c' });
  expect(cfg).toEqual({ PORT: 4100, FLAG: true, LIST: ['a', 'b', 'c'] });
  expect(parseEnv({ PORT: env.port(4000) }, { PORT: '' })).toEqual({ PORT: 4000 });
  expect(parseEnv(sharedEnvShape, {})).toMatchObject({ RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: 31337, LOG_LEVEL: 'info' });
});

test('a bad value names the variable in one line', () => {
  expect(() => parseEnv({ API_PORT: env.port(4000) }, { API_PORT: 'abc' })).toThrow(ConfigError);
  expect(() => parseEnv({ API_PORT: env.port(4000) }, { API_PORT: '70000' })).toThrow(/^Invalid configuration: API_PORT is invalid/);
  expect(() => parseEnv({ SECRET: z.string().min(8) }, {})).toThrow('Invalid configuration: SECRET is missing');
  expect(() => parseEnv(sharedEnvShape, { DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
});

test('loadConfigOrExit stops the process with exit code 1 and that single line on stderr', () => {
  const script = `require('tsx/cjs'); const { loadConfigOrExit, sharedEnvShape } = require(${JSON.stringify(join(__dirname, '../src/config.ts'))}); loadConfigOrExit(sharedEnvShape); console.log('started');`;
  let stderr = '';
  let status = 0;
  try {
    execFileSync(process.execPath, ['-e', script], { env: { ...process.env, CHAIN_ID: '-5' }, stdio: 'pipe' });
  } catch (e) {
    const err = e as { status: number; stderr: Buffer };
    status = err.status;
    stderr = err.stderr.toString();
  }
  expect(status).toBe(1);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^Invalid configuration: CHAIN_ID is invalid/);
});

describe('production safety (common/src/safety.ts)', () => {
  test('development is NODE_ENV not production, the dev chain and the Daraja simulator, all three', () => {
    expect(isDevelopment({})).toBe(true);
    expect(isDevelopment({ NODE_ENV: 'test', CHAIN_ID: 31337, MPESA_BASE_URL: 'http://daraja-sim:4200' })).toBe(true);
    expect(isDevelopment({ NODE_ENV: 'production' })).toBe(false);
    expect(isDevelopment({ CHAIN_ID: 420420422 })).toBe(false);
    expect(isDevelopment({ MPESA_BASE_URL: 'https://sandbox.safaricom.co.ke' })).toBe(false);
    expect(isDarajaSimulator('http://api.safaricom.co.ke')).toBe(false);
    expect(isDarajaSimulator('https://daraja-proxy.internal')).toBe(false);
  });
  test('localhost in every spelling, and anvil keys in any case', () => {
    for (const v of ['localhost:4000', 'http://localhost:4000', 'http://127.0.0.1', '[::1]:4000', 'app.localhost', '0.0.0.0:80']) expect([v, isLocalhost(v)]).toEqual([v, true]);
    for (const v of ['shop.example.com', 'https://shop.example.com', 'localhost.example.com']) expect([v, isLocalhost(v)]).toEqual([v, false]);
    expect(isAnvilKey('0xAC0974BEC39A17E36BA4A6B4D238FF944BACB478CBED5EFCAE784D7BF4F2FF80')).toBe(true);
  });
  test('outside development the first unsafe setting is named; in development nothing is checked', () => {
    const check = [rules.secret<{ JWT_SECRET: string }>('JWT_SECRET')];
    expect(() => refuseUnsafe({ NODE_ENV: 'production', JWT_SECRET: 'short-secret' }, check)).toThrow('Unsafe configuration (NODE_ENV=production): JWT_SECRET is too short (12 characters; at least 32)');
    expect(() => refuseUnsafe({ NODE_ENV: 'development', JWT_SECRET: 'short-secret' }, check)).not.toThrow();
  });
});

test('an end-of-life Node.js gets one warning line naming Node 24; a supported one none', () => {
  const lines: string[] = [];
  expect(warnIfEndOfLife('20.20.2', (l) => lines.push(l))).toBe(true);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^warning: Node\.js 20\.20\.2 reached end of life \(2026-04-30\); Descrow targets Node 24 LTS .*\n$/);
  expect(lines[0]!.trim()).not.toContain('\n');
  for (const v of ['22.12.0', '24.21.0', '26.1.0']) expect(warnIfEndOfLife(v, (l) => lines.push(l))).toBe(false);
  expect(lines).toHaveLength(1);
});

test('.env is read in development only, and variables already set win', () => {
  const dir = mkdtempSync(join(tmpdir(), 'descrow-dotenv-'));
  writeFileSync(join(dir, '.env'), 'CHAIN_ID=1234\nLOG_LEVEL=debug\n');
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); const { loadConfigOrExit, sharedEnvShape } = require(${JSON.stringify(join(__dirname, '../src/config.ts'))}); const c = loadConfigOrExit(sharedEnvShape); console.log(c.CHAIN_ID + ' ' + c.LOG_LEVEL);`;
  const { NODE_ENV: _n, CHAIN_ID: _c, LOG_LEVEL: _l, ...rest } = process.env;
  const run = (env: Record<string, string>) => execFileSync(process.execPath, ['-e', script], { cwd: dir, env: { ...rest, ...env }, encoding: 'utf8' }).trim();
  expect(run({ LOG_LEVEL: 'warn' })).toBe('1234 warn');
  expect(run({ NODE_ENV: 'development' })).toBe('1234 debug');
  expect(run({ NODE_ENV: 'production' })).toBe('31337 info');
  expect(run({ NODE_ENV: 'test' })).toBe('31337 info');
});
