/** Session tokens: HS256 JWTs (jose) with the address as `sub`, the roles, and `exp`. */
import { SignJWT, jwtVerify, errors } from 'jose';

export type Role = 'BUYER' | 'SELLER' | 'ADMIN';
export interface Session { address: string; roles: Role[] }

export class Tokens {
  private readonly key: Uint8Array;
  constructor(secret: string, private readonly ttlSeconds: number, private readonly issuer = 'descrow-api') {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(s: Session, now = Date.now()): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({ roles: s.roles })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(s.address)
      .setIssuer(this.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The session, or the reason the token is refused. */
  async verify(token: string): Promise<{ ok: true; session: Session } | { ok: false; reason: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: this.issuer, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || !Array.isArray(payload.roles)) return { ok: false, reason: 'malformed token' };
      return { ok: true, session: { address: payload.sub, roles: payload.roles as Role[] } };
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
      return { ok: false, reason: 'invalid token' };
    }
  }
}
