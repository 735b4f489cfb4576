/**
 * Access tokens: short-lived HS256 JWTs (jose) with the address as `sub`, the roles, the
 * session id (`sid`), an audience and `exp`. Whether the session still stands is checked
 * on every request (./sessions), so a logout ends its tokens at once.
 */
import { SignJWT, jwtVerify, errors } from 'jose';

export type Role = 'BUYER' | 'SELLER' | 'ARBITER' | 'ADMIN';
export interface Session {
  address: string;
  roles: Role[];
  /** The sign-in (refresh-token family) this token belongs to. */
  sessionId: string;
  /** Issued at, unix seconds. (Revocation is per session, not by time: see ../auth/sessions.) */
  issuedAt: number;
  /** Expiry, unix seconds (a live stream opened with the token ends then). */
  expiresAt: number;
}

export class Tokens {
  private readonly key: Uint8Array;
  constructor(
    secret: string,
    readonly ttlSeconds: number,
    private readonly audience = 'descrow-api',
    private readonly issuer = 'descrow-api',
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(s: Omit<Session, 'issuedAt' | 'expiresAt'>, now = Date.now()): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({ roles: s.roles, sid: s.sessionId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(s.address)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The session the token names, or the reason it is refused (revocation is checked by the caller). */
  async verify(token: string): Promise<{ ok: true; session: Session } | { ok: false; reason: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: this.issuer, audience: this.audience, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || !Array.isArray(payload.roles) || typeof payload.sid !== 'string' || typeof payload.iat !== 'number' || typeof payload.exp !== 'number') {
        return { ok: false, reason: 'malformed token' };
      }
      return { ok: true, session: { address: payload.sub, roles: payload.roles as Role[], sessionId: payload.sid, issuedAt: payload.iat, expiresAt: payload.exp } };
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
      if (e instanceof errors.JWTClaimValidationFailed && e.claim === 'aud') return { ok: false, reason: 'token is for another audience' };
      return { ok: false, reason: 'invalid token' };
    }
  }
}
