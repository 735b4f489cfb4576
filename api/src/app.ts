/**
 * Builds the API: dependencies, the Yoga server (schema, context, limits, CORS, health)
 * and their lifecycle. Tests call `api.yoga.fetch(...)` without opening a port;
 * main.ts serves it over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { createSchema, createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { createLogger, isDevelopment, type Logger } from '@descrow/common';
import type { Deployment } from '@descrow/contracts';
import { sealingKeyring, type ApiConfig } from './config';
import type { Ctx, Deps } from './context';
import { Tokens, type Session } from './auth/jwt';
import { SessionStore } from './auth/sessions';
import { SealedStore } from './data/sealedStore';
import { Cache } from './data/cache';
import { IpfsContentStore, LocalContentStore } from './data/contentStore';
import { createDb } from './data/db';
import { IndexReader } from './data/indexReader';
import { LedgerReader } from './data/ledgerReader';
import { createLoaders } from './data/loaders';
import { OracleClient } from './data/oracleClient';
import { PushLimits } from './data/pushLimits';
import { OrderWatcher } from './data/orderWatcher';
import { createRedis } from './data/redis';
import { resolvers } from './resolvers';
import { HealthSummary } from './health';
import { clientIpResolver } from './limits/clientIp';
import { Limit, RequestLimits } from './limits/limiter';
import { StreamRegistry, useStreamSessionCheck } from './limits/streams';
import { useOperationCost } from './limits/cost';
import { ResponseBudget, countListItems, useResponseSizeLimit } from './limits/budget';
import { ApiMetrics } from './metrics';
import { serveConsole } from './consoleFiles';
import { parseJsonBodyWithin } from './requestBody';
import { createInMemoryCache, useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { useGraphQlJit } from '@envelop/graphql-jit';

export const ROOT = resolve(__dirname, '../..');
export const MIGRATIONS_DIR = resolve(__dirname, '../migrations');
/** The web console as Vite builds it (`npm run build`; the image carries it at the same place). */
export const CONSOLE_DIR = resolve(__dirname, '../../console/dist');
export const typeDefs = readFileSync(resolve(__dirname, 'schema/schema.graphql'), 'utf8');

export interface Api {
  yoga: YogaServerInstance<Record<string, unknown>, Ctx>;
  deps: Deps;
  /** The public /health answer (cached; see ./health). */
  health: HealthSummary;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The escrow contract, its oracle and its arbiter: from the environment, else from the deployment file. */
function contractAddresses(config: ApiConfig, root: string): { escrow: `0x${string}`; oracle: `0x${string}`; arbiter: `0x${string}` } {
  const lower = (a: string) => a.toLowerCase() as `0x${string}`;
  if (config.ESCROW_ADDRESS && config.ORACLE_ADDRESS && config.ARBITER_ADDRESS) {
    return { escrow: lower(config.ESCROW_ADDRESS), oracle: lower(config.ORACLE_ADDRESS), arbiter: lower(config.ARBITER_ADDRESS) };
  }
  const file = resolve(root, config.DEPLOYMENT_FILE);
  if (!existsSync(file)) throw new Error(`ESCROW_ADDRESS, ORACLE_ADDRESS or ARBITER_ADDRESS is unset and ${file} does not exist (run npm run sandbox:chain, or set them)`);
  const d = JSON.parse(readFileSync(file, 'utf8')) as Deployment;
  return {
    escrow: lower(config.ESCROW_ADDRESS ?? d.address),
    oracle: lower(config.ORACLE_ADDRESS ?? d.roles.oracle),
    arbiter: lower(config.ARBITER_ADDRESS ?? d.roles.arbiter),
  };
}

const withCode = (e: GraphQLError, code: string) =>
  new GraphQLError(e.message.replace(/^Syntax Error: (?=.*limit)/, ''), { nodes: e.nodes, path: e.path, extensions: { ...e.extensions, code } });

interface AuthState { session: Session | null; error: string | null; ip: string; requestId: string }

/** Error codes for parse/validation failures (oversized, too deep, too costly, unknown fields). */
const codeValidationErrors: Plugin = {
  onParse: () => ({ result, replaceParseResult }) => {
    if (result instanceof Error) {
      replaceParseResult(new GraphQLError(result.message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } }));
    }
  },
  onValidate: () => ({ result, setResult }) => {
    if (result.length) {
      setResult(result.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } } })));
    }
  },
};

export function createApi(config: ApiConfig, opts: { root?: string; log?: Logger; consoleDir?: string } = {}): Api {
  const root = opts.root ?? ROOT;
  const log = opts.log ?? createLogger('api', config.LOG_LEVEL);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required (npm start provides the embedded Postgres)');
  const { pool, prisma, stats } = createDb(config.DATABASE_URL);
  const redis = createRedis(config.REDIS_URL, config.API_REDIS_TIMEOUT_MS);
  const sharedRedis = config.REDIS_URL ? redis : null;
  const index = new IndexReader(pool, config.INDEX_SCHEMA);
  const tokens = new Tokens(config.JWT_SECRET, config.JWT_TTL, config.JWT_AUDIENCE);
  const addresses = contractAddresses(config, root);
  const sessions = new SessionStore(prisma, redis, tokens, config.REFRESH_TTL, config.REDIS_PREFIX, log.child({ part: 'sessions' }), !!config.REDIS_URL);
  const store = config.IPFS_API_URL ? new IpfsContentStore(config.IPFS_API_URL) : new LocalContentStore(resolve(root, config.EVIDENCE_STORE));
  const deps: Deps = {
    config,
    log,
    pool,
    prisma,
    stats,
    redis,
    cache: new Cache(redis, config.CACHE_TTL_SECONDS, config.REDIS_PREFIX),
    index,
    ledger: new LedgerReader(pool, config.LEDGER_SCHEMA),
    tokens,
    sessions,
    oracle: new OracleClient(config.ORACLE_URL, config.ORACLE_SERVICE_TOKEN, config.ORACLE_TIMEOUT_MS),
    pushLimits: new PushLimits(
      { perPhone: config.MPESA_PUSH_LIMIT_PER_PHONE, perOrder: config.MPESA_PUSH_LIMIT_PER_ORDER, perUser: config.MPESA_PUSH_LIMIT_PER_USER, windowSeconds: config.MPESA_PUSH_WINDOW_SECONDS },
      sharedRedis, config.REDIS_PREFIX,
    ),
    store,
    // KYC files, and the order documents (tracking, dispute statements, evidence): the same keyring, one derived key each.
    sealed: new SealedStore(store, sealingKeyring(config), 'kyc-documents'),
    orderDocuments: new SealedStore(store, sealingKeyring(config), 'order-documents'),
    admins: new Set(config.ADMIN_ADDRESSES.map((a) => a.toLowerCase())),
    escrowAddress: addresses.escrow,
    oracleAddress: addresses.oracle,
    arbiterAddress: addresses.arbiter,
    watcher: new OrderWatcher(index, config.REDIS_URL ? redis : null, config.ORDER_WATCH_INTERVAL_MS, log.child({ part: 'watcher' }), config.REDIS_PREFIX),
    metrics: new ApiMetrics(index, config.RPC_URL),
    streams: new StreamRegistry({ perIp: config.API_MAX_STREAMS_PER_IP, perUser: config.API_MAX_STREAMS_PER_USER, total: config.API_MAX_STREAMS }, sessions),
    challengeLimit: new Limit({ points: config.LOGIN_CHALLENGES_PER_IP, windowSeconds: config.LOGIN_CHALLENGE_WINDOW_SECONDS, keyPrefix: `${config.REDIS_PREFIX}rl:challenge` }, sharedRedis),
  };
  const limits = new RequestLimits({ perIp: config.RATE_LIMIT_PER_IP, perUser: config.RATE_LIMIT_PER_USER, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS, prefix: config.REDIS_PREFIX }, sharedRedis);
  const clientIp = clientIpResolver(config.API_TRUST_PROXY);
  const health = new HealthSummary(deps, config.HEALTH_CACHE_MS);
  const auth = new WeakMap<Request, AuthState>();
  // The response cache (envelop's, through Yoga's plugin): an LRU whose entries never outlive
  // their TTL, keyed per signed-in user where data is private, invalidated per entity by
  // mutations and by the index changing an order (relayed to every instance by the watcher).
  const responseCache = config.API_CACHE_TTL_MS > 0 ? createInMemoryCache({ max: config.API_CACHE_MAX_ENTRIES }) : null;
  deps.watcher.onChanges((ids) => {
    if (responseCache && ids.length) void responseCache.invalidate(ids.map((id) => ({ typename: 'Order', id })));
  });

  // Production behaviour (no introspection, GraphiQL or field suggestions) follows the same
  // rule as the secrets: anything but development, decided from the chain the RPC serves as
  // well as the settings (common/src/safety.ts), not from NODE_ENV alone.
  const production = !isDevelopment(config);
  const armor = new EnvelopArmor({
    maxDepth: { n: config.API_MAX_DEPTH, ignoreIntrospection: true },
    // Cost is ours (./limits/cost): Armor's reads page sizes from literals only, not variables.
    costLimit: { enabled: false },
    maxTokens: { n: config.API_MAX_TOKENS },
    maxAliases: { n: config.API_MAX_ALIASES },
    maxDirectives: { n: 20 },
    blockFieldSuggestion: { enabled: production },
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const refusal = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    deps.metrics.refused(code);
    return json(status, { errors: [{ message, extensions: { code } }] }, headers);
  };

  const gate: Plugin<Record<string, unknown>, Record<string, unknown>> = {
    async onRequest({ request, url, endResponse, serverContext }) {
      if (url.pathname === '/health') {
        // Public and unauthenticated, so cheap: the last full check, refreshed at most every
        // HEALTH_CACHE_MS by one call whatever the traffic. The full report, with timings and
        // errors, is on the private listener (serve.ts).
        const report = await health.current();
        return endResponse(json(report.status === 'ok' ? 200 : 503, report));
      }
      // The console is static files: no session, no GraphQL (it calls /graphql like any client).
      const page = await serveConsole(opts.consoleDir ?? CONSOLE_DIR, url, request.method, isDevelopment(config) ? config.RPC_URL : null);
      if (page) return endResponse(page);
      const requestId = request.headers.get('x-request-id')?.slice(0, 64) || randomUUID();
      // A declared length over the limit is refused before anything is read; a chunked body is
      // counted as it is read (the request parser below).
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > config.API_BODY_LIMIT) return endResponse(refusal(413, 'BAD_USER_INPUT', `request body larger than ${config.API_BODY_LIMIT} bytes`));
      if (url.search.length > 16_384) return endResponse(refusal(414, 'BAD_USER_INPUT', 'query string too long'));
      const ip = clientIp(request, serverContext);
      let session: Session | null = null;
      let error: string | null = null;
      const header = request.headers.get('authorization');
      if (header) {
        const m = /^Bearer\s+(\S+)$/i.exec(header);
        const verdict = m ? await deps.tokens.verify(m[1]!) : { ok: false as const, reason: 'expected "Authorization: Bearer <token>"' };
        if (verdict.ok) session = verdict.session;
        else error = verdict.reason;
      }
      if (request.method !== 'OPTIONS' || session) {
        // The limits and the revocation check go out together (ioredis pipelines them into one round trip).
        const [verdict, revoked] = await Promise.all([
          request.method === 'OPTIONS' ? Promise.resolve({ ok: true as const }) : limits.take(ip, session?.address ?? null),
          session ? deps.sessions.isRevoked(session) : Promise.resolve(false),
        ]);
        if (session && revoked) {
          session = null;
          error = 'this session was signed out: sign in again';
        }
        if (!verdict.ok) {
          log.warn({ requestId, ip, user: session?.address }, 'rate limited');
          return endResponse(refusal(429, 'RATE_LIMITED', `too many requests: at most ${verdict.limit} per ${config.RATE_LIMIT_WINDOW_SECONDS}s`, { 'retry-after': String(verdict.retryAfterSeconds) }));
        }
      }
      auth.set(request, { session, error, ip, requestId });
    },
    onRequestParse({ request, setRequestParser }) {
      if (request.method === 'POST') setRequestParser((req) => parseJsonBodyWithin(req, config.API_BODY_LIMIT));
    },
  };

  const yoga = createYoga<Record<string, unknown>, Ctx>({
    schema: countListItems(createSchema({ typeDefs, resolvers: resolvers as never })),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/__yoga/health',
    landingPage: false,
    graphiql: !production,
    // GraphiQL's code inlined from the installed package: no CDN, works offline and under a strict CSP.
    renderGraphiQL,
    cors: config.CORS_ORIGINS.length
      ? { origin: config.CORS_ORIGINS.includes('*') ? '*' : config.CORS_ORIGINS, credentials: !config.CORS_ORIGINS.includes('*'), methods: ['GET', 'POST', 'OPTIONS'] }
      : false,
    logging: false,
    maskedErrors: {
      isDev: false,
      maskError(error, message) {
        if (error instanceof GraphQLError) {
          const original = error.originalError;
          // A GraphQLError a resolver threw on purpose (it carries a code): pass it on.
          if (original instanceof GraphQLError) return original.extensions?.code ? original : withCode(original, 'BAD_USER_INPUT');
          // Raised while parsing/validating (limits, bad syntax): the client's mistake.
          if (!original) return error.extensions?.code ? error : withCode(error, 'BAD_USER_INPUT');
        }
        const original = (error as GraphQLError).originalError ?? error;
        log.error({ err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original), path: (error as GraphQLError).path }, 'resolver failed');
        return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    plugins: [
      deps.metrics.plugin((request) => auth.get(request)?.requestId),
      gate,
      ...armor.protect().plugins,
      codeValidationErrors,
      // Before the response cache: a cached answer was within the limits when it was made.
      useOperationCost({ maxCost: config.API_MAX_COST, defaultPage: Math.min(config.API_DEFAULT_PAGE, config.API_MAX_PAGE) }),
      useResponseSizeLimit(config.API_MAX_RESPONSE_BYTES),
      // After each subscription event is resolved: is its session still standing?
      useStreamSessionCheck(),
      // Production: no introspection at all (it would skip the depth limit).
      ...(production ? [useDisableIntrospection()] : []),
      // Operations compiled once per document (graphql-jit), then run without the generic executor's walk.
      // (Compiled per parsed document, which Yoga keeps in its bounded parse cache.)
      ...(config.API_JIT ? [useGraphQlJit()] : []),
      ...(responseCache
        ? [
            useResponseCache({
              cache: responseCache,
              ttl: config.API_CACHE_TTL_MS,
              // Private data is cached per signed-in user; anonymous requests share entries.
              session: (request: Request) => auth.get(request)?.session?.address ?? null,
              // A "not found" (a top-level null, e.g. an order the index has not reached yet) is not
              // cached: it names no entity, so the index watcher could not invalidate it when the
              // order appears, and it would hide a new order for the whole TTL.
              shouldCacheResult: ({ result }) => !result.errors?.length && !Object.values(result.data ?? {}).some((v) => v === null),
              includeExtensionMetadata: config.API_CACHE_METADATA,
            }),
          ]
        : []),
    ],
    context: ({ request }) => {
      const a = auth.get(request) ?? { session: null, error: null, ip: 'local', requestId: randomUUID() };
      return {
        deps,
        session: a.session,
        authError: a.error,
        loaders: createLoaders(deps),
        requestId: a.requestId,
        ip: a.ip,
        budget: new ResponseBudget(config.API_MAX_NODES),
        log: log.child({ requestId: a.requestId }),
        trace: deps.metrics.contextOf(request),
      } satisfies Ctx;
    },
  });

  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();
  return {
    yoga,
    deps,
    health,
    async start() {
      await deps.sessions.start();
      await deps.watcher.start();
      // Housekeeping: expired sign-in challenges and old sessions (unref'd: never keeps the process up).
      const sweep = async () => {
        await prisma.loginChallenge.deleteMany({ where: { expiresAt: { lt: new Date(Date.now() - 3_600_000) } } }).catch(() => undefined);
        await deps.sessions.sweep().catch(() => undefined);
      };
      sweeper = setInterval(() => void (sweeping = sweep()), 10 * 60_000);
      sweeper.unref();
      sweeping = sweep();
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      await sweeping;
      await deps.watcher.stop();
      await deps.sessions.stop();
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
      redis.disconnect();
    },
  };
}

export type { ExecutionResult };
