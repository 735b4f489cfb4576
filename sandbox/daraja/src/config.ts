import { resolve } from 'node:path';
import { z } from 'zod';
import { env, parseEnv } from '@descrow/common';
import { deliveryModes, ruleSchema } from './rules';

const CERT_DIR = resolve(__dirname, '../certs');

/** Public sandbox passkey for shortcode 174379 (docs/daraja.md §2). */
export const SANDBOX_PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919';

const rulesFromJson = z
  .string()
  .default('[]')
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a JSON array of rules' });
      return z.NEVER;
    }
  })
  .pipe(z.array(ruleSchema));

/**
 * Environment of the simulator. The MPESA_* names are the oracle's own, so one
 * .env drives both sides; DARAJA_SIM_* tune the simulator only.
 */
export const darajaSimEnvShape = {
  DARAJA_SIM_PORT: env.port(4200),
  DARAJA_SIM_HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel(),
  MPESA_CONSUMER_KEY: z.string().min(1).default('descrow-dev-consumer-key'),
  MPESA_CONSUMER_SECRET: z.string().min(1).default('descrow-dev-consumer-secret'),
  MPESA_SHORTCODE: z.string().regex(/^\d{5,7}$/, 'expected a 5-7 digit shortcode').default('174379'),
  MPESA_PASSKEY: z.string().min(1).default(SANDBOX_PASSKEY),
  MPESA_B2C_SHORTCODE: z.string().regex(/^\d{5,7}$/, 'expected a 5-7 digit shortcode').default('600992'),
  MPESA_INITIATOR_NAME: z.string().min(1).default('testapi'),
  MPESA_INITIATOR_PASSWORD: z.string().min(1).default('Safaricom999!*!'),
  DARAJA_SIM_TOKEN_TTL_SECONDS: env.int(3599, 1),
  /** ms before a pending STK push resolves by the rules; 0 = only the control API resolves it. */
  DARAJA_SIM_STK_RESOLVE_MS: env.int(3000),
  /** ms before an accepted B2C / status request resolves; 0 = only the control API. */
  DARAJA_SIM_B2C_RESOLVE_MS: env.int(1000),
  DARAJA_SIM_CALLBACK_MODE: z.enum(deliveryModes).default('normal'),
  DARAJA_SIM_CALLBACK_DELAY_MS: env.int(5000),
  DARAJA_SIM_CALLBACK_TIMEOUT_MS: env.int(5000, 1),
  /** Opening balance (KES) of a customer wallet the first time a phone number is seen. */
  DARAJA_SIM_WALLET_BALANCE: env.int(100_000),
  DARAJA_SIM_PAYBILL_BALANCE: env.int(0),
  DARAJA_SIM_UTILITY_BALANCE: env.int(1_000_000),
  /** Extra outcome rules, JSON array, tried before the built-in magic numbers (README). */
  DARAJA_SIM_RULES: rulesFromJson,
  /** "Unable to lock subscriber" while a push to the same phone is pending. */
  DARAJA_SIM_LOCK_SUBSCRIBER: env.bool(true),
  /** Each new token revokes the previous ones (the docs FAQ); off by default. */
  DARAJA_SIM_SINGLE_TOKEN: env.bool(false),
  DARAJA_SIM_CERT_FILE: z.string().default(resolve(CERT_DIR, 'simulator-cert.cer')),
  DARAJA_SIM_KEY_FILE: z.string().default(resolve(CERT_DIR, 'simulator-key.pem')),
};

export type DarajaSimConfig = z.infer<z.ZodObject<typeof darajaSimEnvShape>>;

/** Parse an environment (process.env by default); throws ConfigError naming the bad variable. */
export function parseDarajaSimConfig(source: NodeJS.ProcessEnv = process.env): DarajaSimConfig {
  return parseEnv(darajaSimEnvShape, source);
}

/** The defaults, with typed overrides: what in-process tests use. */
export function darajaSimConfig(overrides: Partial<DarajaSimConfig> = {}): DarajaSimConfig {
  return { ...parseEnv(darajaSimEnvShape, {}), ...overrides };
}
