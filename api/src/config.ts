import { z } from 'zod';
import proxyAddr from 'proxy-addr';
import { env, refuseUnsafe, rules, sharedEnvShape, type Rule } from '@descrow/common';

const duration = (def: string) =>
  z
    .string()
    .regex(/^\d+\s*(s|m|h|d)$/, 'expected a duration like 30s, 15m, 12h, 7d')
    .default(def)
    .transform((v) => {
      const n = Number(v.slice(0, -1).trim());
      return n * { s: 1, m: 60, h: 3600, d: 86400 }[v.slice(-1) as 's' | 'm' | 'h' | 'd'];
    });

/** Every API setting, from the environment (see .env.example, "API"). */
export const apiEnvShape = {
  ...sharedEnvShape,
  API_PORT: env.port(4000),
  API_HOST: z.string().default('0.0.0.0'),
  /** Prometheus /metrics: a listener of its own (never the public port), loopback unless set; 0 = no listener. */
  API_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  API_METRICS_HOST: z.string().default('127.0.0.1'),
  /** HS256 secret for session tokens (≥ 32 characters). */
  JWT_SECRET: z.string().min(32).default('dev-jwt-secret-change-me-please-0123456789'),
  /** Access-token lifetime, e.g. 15m: short, because a refresh token renews it. */
  JWT_TTL: duration('15m'),
  /** The audience access tokens are issued for (and checked against). */
  JWT_AUDIENCE: z.string().min(1).default('descrow-api'),
  /** How long a sign-in lasts without signing again (its refresh tokens rotate within it). */
  REFRESH_TTL: duration('30d'),
  /**
   * Live sign-in challenges kept per address and requester (client IP): asking for another
   * drops that requester's oldest, never anyone else's.
   */
  LOGIN_CHALLENGES_PER_ADDRESS: env.int(5, 1),
  /** Sign-in challenges one client IP may ask for per LOGIN_CHALLENGE_WINDOW_SECONDS, whatever the addresses. */
  LOGIN_CHALLENGES_PER_IP: env.int(30, 1),
  LOGIN_CHALLENGE_WINDOW_SECONDS: env.int(60, 1),
  /** Domain and URI written into the sign-in message (EIP-4361). */
  LOGIN_DOMAIN: z.string().default('localhost:4000'),
  LOGIN_URI: z.string().url().default('http://localhost:4000'),
  LOGIN_CHALLENGE_TTL: duration('5m'),
  /** Addresses with the admin role, comma-separated. */
  ADMIN_ADDRESSES: env.list().pipe(z.array(env.address())),
  /** Allowed browser origins, comma-separated ("*" = any). */
  CORS_ORIGINS: env.list(),
  /** The oracle's internal listener (its ORACLE_INTERNAL_PORT, by default ORACLE_PORT + 1). */
  ORACLE_URL: z.string().url().default('http://127.0.0.1:4101'),
  ORACLE_SERVICE_TOKEN: z.string().min(16).default('dev-service-token-change-me'),
  ORACLE_TIMEOUT_MS: env.int(10_000, 100),
  /** Postgres schema of the index (written by the SubQuery node). */
  INDEX_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default(process.env.INDEXER_DB_SCHEMA || 'descrow_index'),
  /** The oracle's ledger schema (read-only). */
  LEDGER_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('oracle'),
  /** The escrow contract (default: read from DEPLOYMENT_FILE). */
  ESCROW_ADDRESS: env.address().optional(),
  /**
   * The contract's oracle account (default: read from DEPLOYMENT_FILE). M-Pesa order ids
   * are Escrow.orderIdFor(oracle, salt); the oracle refuses a payment for any other id.
   */
  ORACLE_ADDRESS: env.address().optional(),
  /** The contract's arbiter (default: read from DEPLOYMENT_FILE): signs in with the ARBITER role. */
  ARBITER_ADDRESS: env.address().optional(),
  /** Evidence and order metadata, content-addressed: a local directory ... */
  EVIDENCE_STORE: z.string().default('.data/evidence'),
  /** ... or an IPFS HTTP API (Kubo: http://127.0.0.1:5001) when set. */
  IPFS_API_URL: env.optionalUrl(),
  EVIDENCE_MAX_BYTES: env.int(1024 * 1024, 1),
  /** KYC documents (PNG, JPEG or PDF) and product images (PNG, JPEG, WebP, GIF): largest accepted file. */
  KYC_DOCUMENT_MAX_BYTES: env.int(1024 * 1024, 1),
  PRODUCT_IMAGE_MAX_BYTES: env.int(512 * 1024, 1),
  /** Listing a product above these prices needs an approved KYC (KES; the chain's smallest unit). */
  KYC_REQUIRED_ABOVE_KES: env.int(50_000, 0),
  KYC_REQUIRED_ABOVE_NATIVE: z.string().regex(/^\d{1,78}$/).default('100000000000000000000'),
  /** Key material for sealing KYC documents in the content store (default: derived from JWT_SECRET). */
  KYC_ENCRYPTION_KEY: z.string().min(32).optional(),
  /** Largest accepted request body (bytes); evidence is base64 inside it. */
  API_BODY_LIMIT: env.int(2 * 1024 * 1024, 1024),
  /** Query limits. */
  API_MAX_DEPTH: env.int(10, 2),
  /**
   * The most an operation may cost, computed with its variables' values before it runs
   * (api/src/limits/cost.ts: about one unit per 100 bytes of answer).
   */
  API_MAX_COST: env.int(20_000, 100),
  /** List items one answer may hold (every list field counts its items as they resolve). */
  API_MAX_NODES: env.int(10_000, 10),
  /** Largest answer, in bytes of JSON. */
  API_MAX_RESPONSE_BYTES: env.int(4 * 1024 * 1024, 1024),
  API_MAX_TOKENS: env.int(2_000, 50),
  API_MAX_ALIASES: env.int(30, 1),
  API_MAX_PAGE: env.int(100, 1),
  API_DEFAULT_PAGE: env.int(20, 1),
  /** Requests per window, per client IP and per logged-in user. */
  RATE_LIMIT_WINDOW_SECONDS: env.int(60, 1),
  RATE_LIMIT_PER_IP: env.int(1_200, 1),
  RATE_LIMIT_PER_USER: env.int(600, 1),
  /** M-Pesa prompts (payWithMpesa) per window: per phone number, per order, per user. */
  MPESA_PUSH_WINDOW_SECONDS: env.int(3_600, 1),
  MPESA_PUSH_LIMIT_PER_PHONE: env.int(3, 1),
  MPESA_PUSH_LIMIT_PER_ORDER: env.int(5, 1),
  MPESA_PUSH_LIMIT_PER_USER: env.int(10, 1),
  /**
   * The proxies in front of the API, comma-separated: addresses, CIDR ranges or proxy-addr's
   * names (loopback, linklocal, uniquelocal). The client is the right-most X-Forwarded-For
   * hop that is not one of them; empty (the default) = the socket's peer, X-Forwarded-For ignored.
   */
  API_TRUST_PROXY: z
    .string()
    .default('')
    .transform((v) => (['', 'false', '0', 'no'].includes(v.trim()) ? [] : v.split(',').map((s) => s.trim()).filter(Boolean)))
    .superRefine((list, c) => {
      if (list.some((s) => ['true', '1', 'yes', '*'].includes(s))) {
        c.addIssue({ code: 'custom', message: 'name the proxies (e.g. loopback or 10.0.0.0/8): trusting every hop lets any client pick its own address' });
        return;
      }
      try {
        proxyAddr.compile(list);
      } catch (e) {
        c.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  /** Open subscriptions (SSE streams) per client IP, per signed-in user and in all, on each API instance. */
  API_MAX_STREAMS_PER_IP: env.int(20, 1),
  API_MAX_STREAMS_PER_USER: env.int(10, 1),
  API_MAX_STREAMS: env.int(5_000, 1),
  /** How long a Redis command may take before the API goes on without it (limits fall back to memory, sessions to Postgres). */
  API_REDIS_TIMEOUT_MS: env.int(250, 10),
  /** The public /health answer is the last full check, refreshed at most this often (ms). */
  HEALTH_CACHE_MS: env.int(5_000, 0),
  /** Prefix of every Redis key and channel the API uses (separates deployments sharing a Redis). */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('descrow:api:'),
  /** Anonymous read responses are reused for this long (ms) in-process; 0 = off. Writes clear it. */
  /** Response cache lifetime (ms; 0 = off): no entry is served older than this, however busy. */
  API_CACHE_TTL_MS: env.int(1_000, 0),
  /** Compile operations with graphql-jit (faster execution of repeated queries). */
  API_JIT: env.bool(true),
  /** Say in each answer's `extensions.responseCache` whether it came from the cache. */
  API_CACHE_METADATA: env.bool(false),
  /** Most entries the response cache keeps (least recently used go first). */
  API_CACHE_MAX_ENTRIES: env.int(10_000, 1),
  /** Cache-aside TTL for products and profiles. */
  CACHE_TTL_SECONDS: env.int(300, 1),
  /** How often the subscription watcher looks at the index's progress. */
  ORDER_WATCH_INTERVAL_MS: env.int(200, 20),
  /** The index is "stale" in /health when it is more than this many blocks behind the chain. */
  HEALTH_MAX_LAG_BLOCKS: env.int(20, 0),
};

export type ApiConfig = z.infer<z.ZodObject<typeof apiEnvShape>>;

const apiRules: Rule<ApiConfig>[] = [
  rules.secret('JWT_SECRET'),
  rules.secret('ORACLE_SERVICE_TOKEN'),
  rules.notLocalhost('LOGIN_DOMAIN'),
  rules.notLocalhost('LOGIN_URI'),
  (c) => (c.ADMIN_ADDRESSES.length ? null : { variable: 'ADMIN_ADDRESSES', problem: 'is empty: name at least one admin address' }),
  rules.redisRequired(),
];

/** Outside development: throws a ConfigError naming the first unsafe setting (common/src/safety.ts). */
export const apiSafety = (config: ApiConfig) => refuseUnsafe(config, apiRules);
