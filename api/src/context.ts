import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Context as TraceContext, Logger } from '@descrow/common';
import type { ApiConfig } from './config';
import type { PrismaClient } from './generated/prisma/client';
import type { Session, Tokens } from './auth/jwt';
import type { SessionStore } from './auth/sessions';
import type { SealedStore } from './data/sealedStore';
import type { Cache } from './data/cache';
import type { ContentStore } from './data/contentStore';
import type { IndexReader } from './data/indexReader';
import type { LedgerReader } from './data/ledgerReader';
import type { Loaders } from './data/loaders';
import type { OracleClient } from './data/oracleClient';
import type { PushLimits } from './data/pushLimits';
import type { QueryStats } from './data/db';
import type { OrderWatcher } from './data/orderWatcher';
import type { ApiMetrics } from './metrics';
import type { Limit } from './limits/limiter';
import type { StreamLease, StreamRegistry } from './limits/streams';
import type { ResponseBudget } from './limits/budget';

/** Long-lived things every request shares. */
export interface Deps {
  config: ApiConfig;
  log: Logger;
  pool: Pool;
  prisma: PrismaClient;
  stats: QueryStats;
  redis: Redis;
  cache: Cache;
  index: IndexReader;
  ledger: LedgerReader;
  tokens: Tokens;
  sessions: SessionStore;
  /** The content store for private documents (sealed: AES-256-GCM). */
  sealed: SealedStore;
  /** Tracking details, dispute statements and evidence (sealed; bound to their order in app.order_documents). */
  orderDocuments: SealedStore;
  oracle: OracleClient;
  pushLimits: PushLimits;
  store: ContentStore;
  admins: Set<string>;
  escrowAddress: `0x${string}`;
  /** The contract's oracle account: the creator of every M-Pesa order. */
  oracleAddress: `0x${string}`;
  /** The contract's arbiter account: the ARBITER role. */
  arbiterAddress: `0x${string}`;
  watcher: OrderWatcher;
  metrics: ApiMetrics;
  /** Open subscriptions: caps per IP and user, and the end of a stream whose session ends. */
  streams: StreamRegistry;
  /** requestLoginChallenge per client IP. */
  challengeLimit: Limit;
}

/** What each resolver gets. */
export interface Ctx {
  deps: Deps;
  session: Session | null;
  /** Why the presented token was refused (expired, invalid), for a precise UNAUTHENTICATED. */
  authError: string | null;
  loaders: Loaders;
  requestId: string;
  /** The client's address (../limits/clientIp): the right-most hop that is not a trusted proxy. */
  ip: string;
  /** List items this answer holds so far (../limits/budget). */
  budget: ResponseBudget;
  log: Logger;
  /** The request's OpenTelemetry context (its server span): calls to the oracle continue its trace. */
  trace?: TraceContext;
  /** A subscription's lease on its stream (../limits/streams), once it is open. */
  stream?: StreamLease;
}
