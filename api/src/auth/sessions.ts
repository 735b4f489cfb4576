/**
 * Sign-in sessions: one refresh-token family each (app.sessions, app.refresh_tokens).
 *
 * - Access tokens (./jwt) live minutes and name their session. Refresh tokens are random,
 *   single use, rotated on every refresh and stored as SHA-256 only.
 * - Presenting a refresh token that was already used revokes its whole family: either it
 *   was stolen or a client is replaying it, and nobody should keep that session.
 * - Revocation is written to Postgres (the record) and to Redis (what every API instance
 *   checks on each request), and announced on a Redis channel (live streams end on it).
 *   Revocation is always per session, "log out everywhere" included: a token a racing
 *   refresh mints for a session being revoked names that session, and is refused.
 * - Redis is believed about "not revoked" only once it holds every revocation Postgres
 *   has: after each (re)connect the revocations of the last access-token lifetime are
 *   written back before Redis is trusted again; until then Postgres decides. So a logout
 *   made while Redis was down (or lost by a Redis restart) stays in force when it returns.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Logger } from '@descrow/common';
import type { PrismaClient } from '../generated/prisma/client';
import { fail } from '../errors';
import { redisReady } from '../data/redis';
import type { Role, Session, Tokens } from './jwt';

export interface Issued { token: string; expiresAt: Date; refreshToken: string; refreshExpiresAt: Date }
/** A revocation as announced to every instance: these sessions (every token naming one is refused). */
export interface Revocation { sessionIds: string[] }

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  /** Whether Redis holds every recent revocation (see the header); Postgres decides until it does. */
  private trusted = false;
  private subscriber: Redis | null = null;
  private resyncing: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private readonly listeners: ((r: Revocation) => void)[] = [];

  constructor(
    private readonly prisma: PrismaClient,
    private readonly redis: Redis,
    private readonly tokens: Tokens,
    private readonly refreshTtlSeconds: number,
    private readonly prefix: string,
    private readonly log?: Logger,
    /** A real Redis shared by every instance (false: the in-process stand-in). */
    private readonly shared = true,
  ) {}

  private get channel() {
    return `${this.prefix}session-revoked`;
  }

  /**
   * The token's revocation key in Redis: present once its session is revoked. Per session
   * only — no "every token of this address issued before t": a sign-in made in the same
   * second as a "log out everywhere" is a new session and must work, and a token a racing
   * refresh mints for a revoked session names that session.
   */
  revocationKey(s: Session): string {
    return `${this.prefix}rv:s:${s.sessionId}`;
  }

  /** Postgres's answer (slower, authoritative). */
  async revokedInDb(s: Session): Promise<boolean> {
    const row = await this.prisma.session.findUnique({ where: { id: s.sessionId }, select: { revokedAt: true } });
    return !row || row.revokedAt !== null;
  }

  /** Whether the token's session was signed out: Redis when it is trusted and answers, else Postgres. */
  async isRevoked(s: Session): Promise<boolean> {
    if (this.trusted && redisReady(this.redis)) {
      try {
        return (await this.redis.exists(this.revocationKey(s))) === 1;
      } catch {
        this.distrust();
      }
    }
    return this.revokedInDb(s);
  }

  /** Called on every instance for each revocation (from any instance). */
  onRevoked(listener: (r: Revocation) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.redis.on('ready', () => void this.resync());
    for (const ev of ['close', 'end', 'reconnecting'] as const) this.redis.on(ev, () => this.distrust(false));
    if (this.shared) {
      // A listening connection: its SUBSCRIBE may wait on a busy Redis (no request is held up by it).
      this.subscriber = this.redis.duplicate({ commandTimeout: undefined });
      this.subscriber.on('message', (_ch: string, msg: string) => {
        try {
          this.announce(JSON.parse(msg) as Revocation);
        } catch {
          /* not ours */
        }
      });
      await this.subscriber.subscribe(this.channel).catch((e: Error) => this.log?.warn({ err: e.message }, 'session revocation channel: subscribe failed'));
    }
    if (redisReady(this.redis)) await this.resync();
  }

  async stop(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.resyncing;
    this.subscriber?.disconnect();
  }

  private announce(r: Revocation): void {
    for (const l of this.listeners) l(r);
  }

  /** Stop believing Redis; optionally try to make it whole again soon. */
  private distrust(retrySoon = true): void {
    this.trusted = false;
    if (retrySoon && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.resync();
      }, 1_000);
      this.retry.unref();
    }
  }

  /** Write every revocation of the last access-token lifetime to Redis, then trust it. */
  resync(): Promise<void> {
    this.resyncing ??= (async () => {
      try {
        const horizon = this.tokens.ttlSeconds + 60;
        const rows = await this.prisma.$queryRaw<{ id: string; age: number }[]>`
          SELECT id::text AS id, extract(epoch FROM now() - revoked_at)::float8 AS age FROM app.sessions
          WHERE revoked_at > now() - make_interval(secs => ${horizon})`;
        if (!redisReady(this.redis)) return;
        const m = this.redis.multi();
        for (const r of rows) m.set(`${this.prefix}rv:s:${r.id}`, '1', 'EX', Math.max(1, Math.ceil(horizon - r.age)));
        await m.exec();
        this.trusted = true;
        if (rows.length) this.log?.info({ revocations: rows.length }, 'session revocations written back to Redis');
      } catch (e) {
        this.log?.warn({ err: (e as Error).message }, 'session revocations: write-back to Redis failed; Postgres decides meanwhile');
        this.distrust();
      } finally {
        this.resyncing = null;
      }
    })();
    return this.resyncing;
  }

  /** Record revocations in Redis and tell every instance; a failed write leaves Postgres deciding until the write-back. */
  private async publish(r: Revocation): Promise<void> {
    const ttl = this.tokens.ttlSeconds + 60;
    try {
      if (!redisReady(this.redis)) throw new Error('redis not ready');
      const m = this.redis.multi();
      for (const id of r.sessionIds) m.set(`${this.prefix}rv:s:${id}`, '1', 'EX', ttl);
      if (this.shared) m.publish(this.channel, JSON.stringify(r));
      await m.exec();
    } catch (e) {
      this.log?.warn({ err: (e as Error).message }, 'session revocation not written to Redis; Postgres decides until it is');
      this.distrust();
    }
    // This instance's own streams end at once, whether or not the announcement went out.
    if (!this.shared || !this.subscriber || this.subscriber.status !== 'ready') this.announce(r);
  }

  /** A new session (a sign-in): its first access and refresh tokens. */
  async begin(address: string, roles: Role[]): Promise<Issued> {
    const sessionId = randomUUID();
    const refreshExpiresAt = new Date(Date.now() + this.refreshTtlSeconds * 1000);
    const refreshToken = randomBytes(32).toString('base64url');
    await this.prisma.session.create({
      data: { id: sessionId, address, expiresAt: refreshExpiresAt, refreshTokens: { create: { tokenHash: hash(refreshToken) } } },
    });
    const access = await this.tokens.sign({ address, roles, sessionId });
    return { ...access, refreshToken, refreshExpiresAt };
  }

  /** Rotate: the presented token is used up, a new one (same session) and a new access token come back. */
  async refresh(refreshToken: string, rolesFor: (address: string) => Role[]): Promise<Issued & { address: string }> {
    const tokenHash = hash(refreshToken);
    const row = await this.prisma.refreshToken.findUnique({ where: { tokenHash }, include: { session: true } });
    if (!row) fail('UNAUTHENTICATED', 'unknown refresh token: sign in again');
    const session = row!.session;
    if (session.revokedAt) fail('UNAUTHENTICATED', 'this session was signed out: sign in again');
    if (session.expiresAt.getTime() <= Date.now()) fail('UNAUTHENTICATED', 'this session has expired: sign in again');
    // Use the token up atomically, and only while its session stands (one statement): of two
    // refreshes with it, one wins; a revocation committed first makes it fail.
    const used = await this.prisma.$executeRaw`
      UPDATE app.refresh_tokens t SET used_at = now() FROM app.sessions s
      WHERE t.token_hash = ${tokenHash} AND t.used_at IS NULL AND s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > now()`;
    if (used !== 1) {
      const again = await this.prisma.refreshToken.findUnique({ where: { tokenHash }, include: { session: true } });
      if (again?.session.revokedAt) fail('UNAUTHENTICATED', 'this session was signed out: sign in again');
      await this.revoke(session.id, 'refresh token reused');
      fail('UNAUTHENTICATED', 'this refresh token was already used: the session is revoked, sign in again');
    }
    const next = randomBytes(32).toString('base64url');
    await this.prisma.refreshToken.create({ data: { tokenHash: hash(next), sessionId: session.id } });
    // A revocation that lands from here on still ends this token: it names this session.
    const access = await this.tokens.sign({ address: session.address, roles: rolesFor(session.address), sessionId: session.id });
    return { ...access, refreshToken: next, refreshExpiresAt: session.expiresAt, address: session.address };
  }

  /** End one session: its refresh tokens stop working and its access tokens are refused from now on. */
  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.prisma.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: reason } });
    await this.publish({ sessionIds: [sessionId] });
  }

  /** End every session of an address ("log out everywhere"); returns how many were open. */
  async revokeAll(address: string, reason: string): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE app.sessions SET revoked_at = now(), revoked_reason = ${reason}
      WHERE address = ${address} AND revoked_at IS NULL RETURNING id::text AS id`;
    await this.publish({ sessionIds: rows.map((r) => r.id) });
    return rows.length;
  }

  /** Housekeeping: sessions long expired or revoked, with their tokens. */
  async sweep(): Promise<number> {
    const cutoff = new Date(Date.now() - 24 * 3600 * 1000);
    const old = await this.prisma.session.findMany({ where: { OR: [{ expiresAt: { lt: cutoff } }, { revokedAt: { lt: cutoff } }] }, select: { id: true }, take: 1_000 });
    if (!old.length) return 0;
    const ids = old.map((s) => s.id);
    await this.prisma.refreshToken.deleteMany({ where: { sessionId: { in: ids } } });
    await this.prisma.session.deleteMany({ where: { id: { in: ids } } });
    return ids.length;
  }
}
