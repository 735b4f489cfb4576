import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** `npm run sandbox:daraja` runs `tsx sandbox/daraja/main.ts`: start it for real. */
const root = resolve(__dirname, '../../..');
const tsx = resolve(root, 'node_modules/.bin/tsx');
const main = resolve(root, 'sandbox/daraja/main.ts');

describe('standalone entry point', () => {
  it('listens on DARAJA_SIM_PORT, serves Daraja and logs every request as JSON', async () => {
    const port = 42_000 + Math.floor(Math.random() * 2000);
    const child = spawn(tsx, [main], { cwd: root, env: { ...process.env, DARAJA_SIM_PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await new Promise<void>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no ready line: ${out}`)), 15_000);
        child.stdout.on('data', () => out.includes('ready') && (clearTimeout(t), ok()));
        child.on('exit', (code) => fail(new Error(`exited ${code}: ${out}`)));
      });
      const basic = Buffer.from('descrow-dev-consumer-key:descrow-dev-consumer-secret').toString('base64');
      const res = await fetch(`http://127.0.0.1:${port}/oauth/v1/generate?grant_type=client_credentials`, { headers: { authorization: `Basic ${basic}` } });
      expect(res.status).toBe(200);
      expect((await res.json()).expires_in).toBe('3599');
      await new Promise((r) => setTimeout(r, 50));
      const line = out.split('\n').find((l) => l.includes('/oauth/v1/generate'));
      expect(JSON.parse(line!)).toMatchObject({ service: 'daraja-sim', method: 'GET', status: 200, msg: 'request' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 30_000);

  it('a bad variable stops it with one line naming the variable', () => {
    const r = spawnSync(tsx, [main], { cwd: root, env: { ...process.env, DARAJA_SIM_PORT: 'eighty' }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^Invalid configuration: DARAJA_SIM_PORT is invalid/);
  }, 30_000);
});
