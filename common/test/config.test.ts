import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, env, parseEnv, sharedEnvShape } from '../src/config';

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
