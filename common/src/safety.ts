/**
 * Production safety: outside development every service refuses the public development
 * values (default secrets, anvil's keys, localhost sign-in domains, an open callback
 * endpoint, an in-memory Redis) with one line naming the variable.
 *
 * Development means all of: NODE_ENV is not `production`, the CHAIN_ID setting is the dev
 * chain (31337), Daraja is the simulator (a plain-http URL that is not Safaricom's) and —
 * once a service has asked (confirmDevelopmentChain) — the RPC really serves a dev chain
 * (eth_chainId 31337 from anvil or Hardhat). Settings alone are not enough: an API pointed
 * at a real chain with NODE_ENV and CHAIN_ID unset must not start with the public secrets.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { ANVIL_ACCOUNTS } from './anvil';
import type { z } from 'zod';
import { ConfigError, loadConfigOrExit } from './config';
import { jsonRpc } from './rpc';

export const DEV_CHAIN_ID = 31337;

/** What the RPC said it is (eth_chainId, web3_clientVersion), or why it could not say. */
export interface ServedChain { chainId: number | null; client: string | null; error?: string }

export interface ModeInputs {
  NODE_ENV?: string;
  CHAIN_ID?: number;
  MPESA_BASE_URL?: string;
  RPC_URL?: string;
  /** Set by confirmDevelopmentChain: the chain the RPC actually serves. */
  servedChain?: ServedChain;
}

/** A chain only a developer runs: anvil's (or Hardhat's) chain id from anvil or Hardhat itself. */
export function isDevChain(s: ServedChain): boolean {
  return s.chainId === DEV_CHAIN_ID && /^(anvil|hardhatnetwork)\//i.test(s.client ?? '');
}

/** Ask the RPC which chain it serves; retried until `waitMs` has passed when it does not answer. */
export async function probeChain(rpcUrl: string, waitMs = 3_000): Promise<ServedChain> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const [id, client] = await Promise.all([
        jsonRpc<string>(rpcUrl, 'eth_chainId', [], 1_000),
        jsonRpc<string>(rpcUrl, 'web3_clientVersion', [], 1_000).catch(() => null),
      ]);
      return { chainId: Number(id), client };
    } catch (err) {
      if (Date.now() >= until) return { chainId: null, client: null, error: (err as Error).message };
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Daraja is the simulator when its URL is plain http and not a Safaricom host. */
export function isDarajaSimulator(url: string | undefined): boolean {
  if (!url) return true;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && !/(^|\.)safaricom\.co\.ke$/i.test(u.hostname);
  } catch {
    return false;
  }
}

/** The settings say development (see the top of this file); the served chain is checked too once known. */
const settingsSayDevelopment = (c: ModeInputs) =>
  c.NODE_ENV !== 'production' && (c.CHAIN_ID ?? DEV_CHAIN_ID) === DEV_CHAIN_ID && isDarajaSimulator(c.MPESA_BASE_URL);

export function isDevelopment(c: ModeInputs): boolean {
  return settingsSayDevelopment(c) && (c.servedChain === undefined || isDevChain(c.servedChain));
}

/** Why a run is not development, for the refusal line. */
export function modeReason(c: ModeInputs): string {
  if (c.NODE_ENV === 'production') return 'NODE_ENV=production';
  if ((c.CHAIN_ID ?? DEV_CHAIN_ID) !== DEV_CHAIN_ID) return `CHAIN_ID=${c.CHAIN_ID} is not the dev chain`;
  if (!isDarajaSimulator(c.MPESA_BASE_URL)) return 'MPESA_BASE_URL is not the Daraja simulator';
  const s = c.servedChain!;
  if (s.chainId === null) return `RPC_URL did not answer eth_chainId (${s.error ?? 'no answer'}), so the dev chain cannot be confirmed`;
  return `RPC_URL serves chain ${s.chainId}${s.client ? ` (${s.client})` : ''}, not a dev chain`;
}

/**
 * For `main` entry points, before the safety rules: when the settings say development, ask
 * the RPC which chain it really serves and record it on the config, so isDevelopment (and
 * with it refuseUnsafe) decides from the real chain. A chain that is not a dev chain — or an
 * RPC that does not answer — makes the run "not development": every production rule applies.
 */
export async function confirmDevelopmentChain<C extends ModeInputs>(config: C, waitMs?: number): Promise<C> {
  if (!settingsSayDevelopment(config)) return config;
  config.servedChain = await probeChain(config.RPC_URL ?? 'http://127.0.0.1:8545', waitMs);
  return config;
}

const anvilKeys = new Set<string>(ANVIL_ACCOUNTS.map((a) => a.privateKey.toLowerCase()));
const anvilAddresses = new Set<string>(ANVIL_ACCOUNTS.map((a) => a.address.toLowerCase()));

/** One of anvil's public dev keys (mnemonic "test test … junk"), known to everyone. */
export const isAnvilKey = (key: string | undefined) => !!key && anvilKeys.has(key.toLowerCase());
export const isAnvilAddress = (address: string | undefined) => !!address && anvilAddresses.has(address.toLowerCase());

const LOCAL_HOSTS = /^(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?|0\.0\.0\.0)$/i;

/** A host (`example.com:443`) or URL that points at this machine. */
export function isLocalhost(hostOrUrl: string): boolean {
  let host = hostOrUrl.trim();
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) host = new URL(host).hostname;
    else host = new URL(`http://${host}`).hostname;
  } catch {
    /* keep as given */
  }
  return LOCAL_HOSTS.test(host) || /\.localhost$/i.test(host);
}

/** An IP address no one outside this network can reach: private, loopback, link-local, unique-local. */
function isPrivateAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(h) === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  if (isIP(h) === 6) return h === '::1' || h === '::' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h) || h.startsWith('::ffff:');
  return false;
}

/**
 * Why `url` is not an address the internet reaches over https (e.g. Daraja calling back), or
 * null: plain http, this machine, a private address, or a name without a dot (a compose
 * service such as `oracle`, resolvable on that network only).
 */
export function notPublicHttps(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:') return `is ${u.protocol.replace(':', '')}, not https`;
  if (isLocalhost(u.hostname) || isPrivateAddress(u.hostname)) return `names ${u.hostname}, which the internet cannot reach`;
  if (!isIP(u.hostname.replace(/^\[|\]$/g, '')) && !u.hostname.includes('.')) return `names ${u.hostname}, a name only this network resolves`;
  return null;
}

/** Why `path` is not a file this process can read, or null. */
export function unreadableFile(path: string | undefined): string | null {
  if (!path) return 'is unset';
  try {
    if (!statSync(path).isFile()) return `names ${path}, which is not a file`;
    accessSync(path, constants.R_OK);
    return null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === 'ENOENT' ? `names ${path}, which does not exist` : `names ${path}, which cannot be read (${code ?? 'error'})`;
  }
}

/** Secrets shorter than this are refused outside development. */
export const MIN_SECRET_LENGTH = 32;

/** Every development default a secret has ever had (config defaults, docker-compose, .env.example). */
export const DEV_SECRETS: Record<string, readonly string[]> = {
  JWT_SECRET: ['dev-jwt-secret-change-me-please-0123456789', 'dev-jwt-secret-change-me-0123456789abcdef'],
  ORACLE_SERVICE_TOKEN: ['dev-service-token-change-me'],
  ORACLE_CALLBACK_TOKEN: ['dev-callback-token-change-me'],
  MPESA_CONSUMER_KEY: ['descrow-dev-consumer-key'],
  MPESA_CONSUMER_SECRET: ['descrow-dev-consumer-secret'],
  POSTGRES_PASSWORD: ['postgres'],
  KYC_ENCRYPTION_KEYS: ['dev-sealing-key-change-me-0123456789abcdef'],
};

/** A rule returns the problem with one variable, or nothing. */
export type Rule<C> = (config: C) => { variable: string; problem: string } | null | undefined | false;

/** Checks shared by the rules below. */
export const rules = {
  /** Not a development default, and long enough. */
  secret: <C>(variable: keyof C & string, min = MIN_SECRET_LENGTH): Rule<C> => (c) => {
    const v = String((c as Record<string, unknown>)[variable] ?? '');
    if (!v) return { variable, problem: 'is missing' };
    if (DEV_SECRETS[variable]?.includes(v)) return { variable, problem: 'is the public development default; set your own secret' };
    if (v.length < min) return { variable, problem: `is too short (${v.length} characters; at least ${min})` };
    return null;
  },
  notAnvilKey: <C>(variable: keyof C & string): Rule<C> => (c) =>
    isAnvilKey((c as Record<string, unknown>)[variable] as string)
      ? { variable, problem: "is one of anvil's public development keys; use your own key from a secret store" }
      : null,
  notLocalhost: <C>(variable: keyof C & string): Rule<C> => (c) => {
    const v = (c as Record<string, unknown>)[variable];
    return typeof v === 'string' && isLocalhost(v) ? { variable, problem: `points at this machine (${v}); set the public host of your dApp` } : null;
  },
  /** An https URL the internet reaches (see notPublicHttps). */
  publicHttps: <C>(variable: keyof C & string, why: string): Rule<C> => (c) => {
    const problem = notPublicHttps(String((c as Record<string, unknown>)[variable] ?? ''));
    return problem ? { variable, problem: `${problem}: ${why}` } : null;
  },
  /** A file that exists and can be read now, not at first use. */
  readableFile: <C>(variable: keyof C & string, what: string): Rule<C> => (c) => {
    const problem = unreadableFile((c as Record<string, unknown>)[variable] as string | undefined);
    return problem ? { variable, problem: `${problem}: set it to ${what}` } : null;
  },
  redisRequired: <C extends { REDIS_URL?: string }>(): Rule<C> => (c) =>
    c.REDIS_URL ? null : { variable: 'REDIS_URL', problem: 'is missing: rate limits, locks and pub/sub must be shared through a real Redis' },
};

/**
 * Runs `checks` unless the run is development; throws a ConfigError naming the first
 * variable that is unsafe, e.g.
 * `Unsafe configuration (NODE_ENV=production): JWT_SECRET is the public development default; set your own secret`.
 */
export function refuseUnsafe<C extends ModeInputs>(config: C, checks: Rule<C>[]): C {
  if (isDevelopment(config)) return config;
  for (const check of checks) {
    const p = check(config);
    if (p) throw new ConfigError(p.variable, p.problem, `Unsafe configuration (${modeReason(config)}): `);
  }
  return config;
}

/**
 * `loadConfigOrExit` for services: parse, confirm the served chain when the settings say
 * development (confirmDevelopmentChain), then run `guard` (the production rules); a bad or
 * unsafe setting prints one line naming it and exits 1.
 */
export async function loadSafeConfigOrExit<S extends Record<string, z.ZodType>>(shape: S, guard: (config: z.infer<z.ZodObject<S>>) => unknown, env: NodeJS.ProcessEnv = process.env): Promise<z.infer<z.ZodObject<S>>> {
  const config = loadConfigOrExit(shape, env);
  await confirmDevelopmentChain(config as ModeInputs);
  try {
    guard(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  return config;
}
