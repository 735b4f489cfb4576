import { z } from 'zod';
import { env, isDarajaSimulator, refuseUnsafe, rules, sharedEnvShape, type Rule } from '@descrow/common';

/** Every oracle setting, from the environment (see .env.example, "oracle"). */
export const oracleEnvShape = {
  ...sharedEnvShape,
  ORACLE_PORT: env.port(4100),
  /** 127.0.0.1: development stays on this machine; compose sets 0.0.0.0 inside its container. */
  ORACLE_HOST: z.string().default('127.0.0.1'),
  /** The internal listener (/internal/*, detailed /health): its own port, never published. Unset = ORACLE_PORT + 1. */
  ORACLE_INTERNAL_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  ORACLE_INTERNAL_HOST: z.string().default('127.0.0.1'),
  /** Where Daraja reaches us; the callback paths are appended. Must avoid Daraja's banned words. */
  ORACLE_PUBLIC_URL: z.string().url().default('http://127.0.0.1:4100'),
  /** Secret path segment in every callback URL, compared in constant time. */
  ORACLE_CALLBACK_TOKEN: z.string().min(16).default('dev-callback-token-change-me'),
  /** Bearer token the API presents on /internal/*. */
  ORACLE_SERVICE_TOKEN: z.string().min(16).default('dev-service-token-change-me'),
  /** Dev oracle key = anvil account 1. Production: a dedicated key from a secret store. */
  ORACLE_PRIVATE_KEY: env.privateKey().default('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'),
  ESCROW_ADDRESS: env.address().optional(),
  /** Payouts wait until the releasing event is this many blocks deep; 0 = use the chain's `finalized` tag. */
  ORACLE_CONFIRMATION_DEPTH: env.int(0),
  /** Comma-separated callback source IPs; empty = no allow-list. */
  ORACLE_CALLBACK_ALLOWED_IPS: env.list(),
  /** Proxies whose X-Forwarded-For we believe. */
  ORACLE_TRUSTED_PROXIES: env.list(),
  /** Outside development an empty allow-list must be chosen explicitly with this. */
  ORACLE_CALLBACK_ALLOW_ANY_SOURCE: env.bool(false),
  ORACLE_CALLBACK_BODY_LIMIT: env.int(64 * 1024, 1024),
  /** STK: how long a push may stay unanswered before it is expired, and query backoff. */
  ORACLE_STK_EXPIRY_SECONDS: env.int(180, 10),
  ORACLE_STK_FIRST_QUERY_SECONDS: env.int(20, 0),
  ORACLE_STK_QUERY_MAX_BACKOFF_SECONDS: env.int(120, 1),
  /** A request whose callback said "paid" is re-verified with backoff (capped here) for this long (seconds, default 48 h), then handed to a person. */
  ORACLE_STK_VERIFY_MAX_BACKOFF_SECONDS: env.int(900, 1),
  ORACLE_STK_VERIFY_SECONDS: env.int(48 * 3600, 1),
  ORACLE_B2C_STATUS_DELAY_SECONDS: env.int(60, 0),
  /**
   * A payout is given up (and a new attempt queued) only after Transaction Status said "not
   * completed" at least twice, the first and last answer at least this many seconds apart.
   */
  ORACLE_B2C_FAILURE_CONFIRM_SECONDS: env.int(900, 0),
  /** Transaction Status checks of a payout still open before it also waits for a person (checks go on after that). */
  ORACLE_B2C_STATUS_CHECKS_BEFORE_PERSON: env.int(10, 1),
  /**
   * How long any attempt Daraja may have accepted — failed, settled, waiting for a person —
   * keeps being re-checked with Transaction Status (backoff) until M-Pesa's answer is final (seconds, default 7 days).
   */
  ORACLE_B2C_VERIFY_SECONDS: env.int(7 * 86_400, 1),
  /** How often the paybill's transaction pull is read for payments missing from the ledger (seconds; 0 = never), and how far back. */
  ORACLE_PULL_INTERVAL_SECONDS: env.int(600),
  ORACLE_PULL_LOOKBACK_HOURS: env.int(48, 1),
  ORACLE_JOB_INTERVAL_MS: env.int(1_000, 50),
  /** Postgres: wait at most this long for a connection, and for any one query (ms). */
  ORACLE_DB_CONNECT_TIMEOUT_MS: env.int(5_000, 100),
  ORACLE_DB_QUERY_TIMEOUT_MS: env.int(30_000, 100),
  /** If every job pass fails for this long (e.g. Postgres unreachable), exit so the supervisor restarts us (0 = never). */
  ORACLE_DB_GIVE_UP_SECONDS: env.int(120),
  ORACLE_RUN_JOBS: env.bool(true),
  /** A callback or job item that throws is tried again after this long, doubling (with jitter) per failure… */
  ORACLE_JOB_RETRY_FIRST_SECONDS: env.int(5, 1),
  /** …up to this long between tries (seconds). It is retried for as long as it fails; an alert pages after 10 minutes. */
  ORACLE_JOB_RETRY_MAX_SECONDS: env.int(600, 1),
  /** How often the oracle reconciles its ledger against the chain (seconds; 0 = never). */
  ORACLE_RECONCILE_INTERVAL_SECONDS: env.int(300),

  MPESA_BASE_URL: z.string().url().default('http://127.0.0.1:4200'),
  MPESA_CONSUMER_KEY: z.string().min(1).default('descrow-dev-consumer-key'),
  MPESA_CONSUMER_SECRET: z.string().min(1).default('descrow-dev-consumer-secret'),
  MPESA_SHORTCODE: z.string().regex(/^\d{5,7}$/).default('174379'),
  MPESA_PASSKEY: z.string().min(1).default('bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919'),
  MPESA_B2C_SHORTCODE: z.string().regex(/^\d{5,7}$/).default('600992'),
  MPESA_INITIATOR_NAME: z.string().min(1).default('testapi'),
  MPESA_INITIATOR_PASSWORD: z.string().min(1).default('Safaricom999!*!'),
  /** PEM certificate used to encrypt the initiator password; unset = fetch `${MPESA_BASE_URL}/__sim/certificate` (simulator only). */
  MPESA_CERTIFICATE_PATH: z.string().optional(),
  MPESA_TIMEOUT_MS: env.int(10_000, 100),
};

export type OracleConfig = z.infer<z.ZodObject<typeof oracleEnvShape>>;

/** Safaricom's published sandbox values: correct against the sandbox (and the simulator) only. */
const SANDBOX_ONLY = { MPESA_PASSKEY: 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919', MPESA_INITIATOR_PASSWORD: 'Safaricom999!*!' } as const;

const oracleRules: Rule<OracleConfig>[] = [
  rules.secret('ORACLE_CALLBACK_TOKEN'),
  rules.secret('ORACLE_SERVICE_TOKEN'),
  rules.notAnvilKey('ORACLE_PRIVATE_KEY'),
  rules.secret('MPESA_CONSUMER_KEY', 1),
  rules.secret('MPESA_CONSUMER_SECRET', 1),
  ...(['MPESA_PASSKEY', 'MPESA_INITIATOR_PASSWORD'] as const).map((variable): Rule<OracleConfig> => (c) =>
    c[variable] === SANDBOX_ONLY[variable] && new URL(c.MPESA_BASE_URL).hostname !== 'sandbox.safaricom.co.ke'
      ? { variable, problem: "is Safaricom's public sandbox value; set your app's own" }
      : null),
  (c) =>
    c.ORACLE_CALLBACK_ALLOWED_IPS.length || c.ORACLE_CALLBACK_ALLOW_ANY_SOURCE
      ? null
      : { variable: 'ORACLE_CALLBACK_ALLOWED_IPS', problem: "is empty: list Safaricom's callback addresses (docs/daraja.md), or set ORACLE_CALLBACK_ALLOW_ANY_SOURCE=true to accept any source" },
  rules.redisRequired(),
  // Against real Daraja (the simulator calls back on its own network and serves its own certificate).
  (c) => !isDarajaSimulator(c.MPESA_BASE_URL) && rules.publicHttps<OracleConfig>('ORACLE_PUBLIC_URL', "Daraja must reach it to deliver payment and payout results (set your oracle's public https address)")(c),
  (c) => !isDarajaSimulator(c.MPESA_BASE_URL) && rules.readableFile<OracleConfig>('MPESA_CERTIFICATE_PATH', "Safaricom's certificate for this environment (it encrypts the B2C initiator password)")(c),
];

/** Outside development: throws a ConfigError naming the first unsafe setting (common/src/safety.ts). */
export const oracleSafety = (config: OracleConfig) => refuseUnsafe(config, oracleRules);

/** The internal listener's port. */
export const internalPort = (config: OracleConfig) => config.ORACLE_INTERNAL_PORT ?? config.ORACLE_PORT + 1;
