/**
 * Sign-in sessions: one refresh-token family each (app.sessions, app.refresh_tokens).
 *
 * - Access tokens (./jwt) live minutes and name their session. Refresh tokens are random,
 *   single use, rotated on every refresh and stored as SHA-256 only.
 * - Presenting a refresh token that was already used revokes its whole family: either it
 *   was stolen or a client is replaying it, and nobody should keep that session.
 * - Revocation is written to Postgres (the record) and to Redis (what every API instance
 *   checks on each request, in the same round trip as the rate limits), so a logout ends
 *   the session's access tokens at once, everywhere. Redis keys live as long as an access
 *   token can; after that the token has expired anyway.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { PrismaClient } from '../generated/prisma/client';
import { fail } from '../errors';
import type { Role, Session, Tokens } from './jwt';

export interface Issued { token: string; expiresAt: Date; refreshToken: string; refreshExpiresAt: Date }

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly redis: Redis,
    private readonly tokens: Tokens,
    private readonly refreshTtlSeconds: number,
    private readonly prefix: string,
  ) {}

  /** Redis keys whose presence (session) or value ≥ iat (address) means the token is revoked. */
  revocationKeys(s: Session): [string, string] {
    return [`${this.prefix}rv:s:${s.sessionId}`, `${this.prefix}rv:a:${s.address}`];
  }

  /** Whether the values read from revocationKeys() revoke this token. */
  static revokedBy(s: Session, values: readonly (string | null | undefined)[]): boolean {
    // Same-second tokens count as revoked: a sign-in within the second of a "log out everywhere" must sign in again.
    return values[0] != null || (values[1] != null && Number(values[1]) >= s.issuedAt);
  }

  /** When Redis cannot answer: the session row decides (slower, same answer). */
  async revokedInDb(s: Session): Promise<boolean> {
    const row = await this.prisma.session.findUnique({ where: { id: s.sessionId }, select: { revokedAt: true } });
    return !row || row.revokedAt !== null;
  }

  async start(address: string, roles: Role[]): Promise<Issued> {
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
    // Use the token up atomically: of two refreshes with it, one wins; the other is a reuse.
    const used = await this.prisma.refreshToken.updateMany({ where: { tokenHash, usedAt: null }, data: { usedAt: new Date() } });
    if (used.count !== 1) {
      await this.revoke(session.id, 'refresh token reused');
      fail('UNAUTHENTICATED', 'this refresh token was already used: the session is revoked, sign in again');
    }
    const next = randomBytes(32).toString('base64url');
    await this.prisma.refreshToken.create({ data: { tokenHash: hash(next), sessionId: session.id } });
    const access = await this.tokens.sign({ address: session.address, roles: rolesFor(session.address), sessionId: session.id });
    return { ...access, refreshToken: next, refreshExpiresAt: session.expiresAt, address: session.address };
  }

  /** End one session: its refresh tokens stop working and its access tokens are refused from now on. */
  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.prisma.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: reason } });
    await this.redis.set(`${this.prefix}rv:s:${sessionId}`, '1', 'EX', this.tokens.ttlSeconds + 60);
  }

  /** End every session of an address ("log out everywhere"); returns how many were open. */
  async revokeAll(address: string, reason: string): Promise<number> {
    const now = new Date();
    const { count } = await this.prisma.session.updateMany({ where: { address, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
    await this.redis.set(`${this.prefix}rv:a:${address}`, String(Math.floor(now.getTime() / 1000)), 'EX', this.tokens.ttlSeconds + 60);
    return count;
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
