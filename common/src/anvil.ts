import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { prepareAnvilState, resumeClock } from './anvilState';

/** Anvil's default dev accounts (mnemonic "test test … junk"), public knowledge. */
export const ANVIL_ACCOUNTS = [
  { address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' },
  { address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' },
  { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' },
  { address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', privateKey: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6' },
  { address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', privateKey: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a' },
  { address: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', privateKey: '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba' },
  { address: '0x976EA74026E726554dB657fA54763abd0C3a0aa9', privateKey: '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e' },
  { address: '0x14dC79964da2C08b23698B3D3cc7Ca32193d9955', privateKey: '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356' },
  { address: '0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f', privateKey: '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97' },
  { address: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720', privateKey: '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6' },
] as const;

/** Dev roles used by the sandbox chain, tests and `npm start`. */
export const DEV_ROLES = {
  owner: ANVIL_ACCOUNTS[0],
  oracle: ANVIL_ACCOUNTS[1],
  arbiter: ANVIL_ACCOUNTS[2],
  treasury: ANVIL_ACCOUNTS[3],
  buyer: ANVIL_ACCOUNTS[4],
  seller: ANVIL_ACCOUNTS[5],
} as const;

/** A viem chain definition for an Ethereum-RPC chain of the Polkadot family (anvil by default). */
export function chainFor(rpcUrl: string, id = 31337, name = id === 31337 ? 'anvil' : `chain-${id}`) {
  return { id, name, nativeCurrency: { name: 'DOT', symbol: 'DOT', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } };
}

export interface AnvilHandle {
  url: string; port: number; process: ChildProcess; stop: () => Promise<void>;
  /** With stateFile: stale genesis blocks an older start left in the file, now removed. */
  staleGenesisDropped?: number;
}
export interface AnvilOptions {
  port?: number; blockTime?: number; chainId?: number; quiet?: boolean; extraArgs?: string[];
  /** States kept (in memory) for historical reads; default 512. */
  historyStates?: number;
  /** Keep the chain in this file across restarts (dumped every 5 s and on exit), genesis unchanged (./anvilState). */
  stateFile?: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
}

/** The real Foundry binary shipped by @foundry-rs/anvil's platform package. */
export function anvilBinary(): string {
  const platform = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    const pkg = require.resolve(`@foundry-rs/anvil-${platform}/package.json`);
    const bin = join(dirname(pkg), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
    if (existsSync(bin)) return bin;
  } catch {
    /* fall through to the wrapper */
  }
  return join(dirname(require.resolve('@foundry-rs/anvil/package.json')), 'bin.mjs');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port whose next port is free too: for a service whose second listener defaults to
 * port + 1 (the oracle's internal listener). Tries a few candidates before giving up.
 */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports found');
}

export async function rpcAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/** Start anvil and wait until it answers JSON-RPC. `port: 0` picks a free port. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilHandle> {
  const port = opts.port || (await freePort());
  // --prune-history: keep the last states in memory and none on disk. Without it anvil
  // spills old states to ~/.foundry/anvil/tmp (gigabytes per busy node, left behind when a
  // node is killed). 512 covers finality (64 blocks), reorg tests and payouts at depth.
  const state = opts.stateFile ? prepareAnvilState(opts.stateFile) : undefined;
  const args = ['--port', String(port), '--host', opts.host ?? '127.0.0.1', '--chain-id', String(opts.chainId ?? 31337), '--prune-history', String(opts.historyStates ?? 512), ...(state?.args ?? []), ...(opts.extraArgs ?? [])];
  if (opts.blockTime) args.push('--block-time', String(opts.blockTime));
  if (opts.quiet !== false) args.push('--silent');
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  while (!(await rpcAnswers(url, 300))) {
    if (child.exitCode !== null) throw new Error(`anvil exited with ${child.exitCode}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`anvil did not answer on ${url} within 15 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (state?.genesisTimestamp !== undefined) await resumeClock(url);
  return {
    url,
    port,
    process: child,
    staleGenesisDropped: state?.dropped,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
      }),
  };
}
