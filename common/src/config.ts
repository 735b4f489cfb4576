import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import dotenv from 'dotenv';
import { z } from 'zod';

/**
 * Configuration comes from the environment only, validated with zod at start-up.
 * A bad value stops the process with one line naming the variable.
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, readonly problem: string, prefix = 'Invalid configuration: ') {
    super(`${prefix}${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Shape = Record<string, z.ZodType>;

/** Parse `env` with `shape`, then `guard` (e.g. the production checks); throws ConfigError naming the first bad variable. */
export function parseEnv<S extends Shape>(shape: S, env: NodeJS.ProcessEnv = process.env, guard?: (config: z.infer<z.ZodObject<S>>) => unknown): z.infer<z.ZodObject<S>> {
  // Empty strings mean "unset" so `FOO=` in a .env file falls back to the default.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const shown = cleaned[variable] === undefined ? 'is missing' : `is invalid (${issue.message})`;
    throw new ConfigError(variable, shown);
  }
  const config = result.data as z.infer<z.ZodObject<S>>;
  guard?.(config);
  return config;
}

/**
 * In development (NODE_ENV unset or `development`) a `.env` in the working directory is
 * read (dotenv; variables already set win). Production and tests never read it.
 */
export function loadDotEnv(file = resolve('.env')): boolean {
  if ((process.env.NODE_ENV || 'development') !== 'development' || !existsSync(file)) return false;
  dotenv.config({ path: file, quiet: true });
  return true;
}

/** For `main` entry points: load `.env` (development), parse, or print one clear line and exit 1. */
export function loadConfigOrExit<S extends Shape>(shape: S, env: NodeJS.ProcessEnv = process.env, guard?: (config: z.infer<z.ZodObject<S>>) => unknown): z.infer<z.ZodObject<S>> {
  if (env === process.env) loadDotEnv();
  try {
    return parseEnv(shape, env, guard);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Reusable field types, so every service spells the same variable the same way. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(1).max(65535).default(def),
  url: () => z.string().url(),
  optionalUrl: () => z.string().url().optional(),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  int: (def: number, min = 0) => z.coerce.number().int().min(min).default(def),
  address: () => z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte hex address'),
  privateKey: () => z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 0x-prefixed 32-byte hex private key'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  list: () =>
    z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
};

/** Variables every service shares (see .env.example). */
export const sharedEnvShape = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: env.logLevel(),
  /** pretty (development default) or json (elsewhere); see logger.ts. */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  DATABASE_URL: env.optionalUrl(),
  REDIS_URL: env.optionalUrl(),
  RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  DEPLOYMENT_FILE: z.string().default('sandbox/chain/deployments/local.json'),
  /** Daraja (or the simulator): also decides whether this run is development (common/src/safety.ts). */
  MPESA_BASE_URL: z.string().url().default('http://127.0.0.1:4200'),
  /** OpenTelemetry: traces are sent to `<this>/v1/traces` (OTLP over HTTP) when set; unset = no exporter. */
  OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalUrl(),
};
