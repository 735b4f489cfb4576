import { timingSafeEqual } from 'node:crypto';
import { errors } from './errors';
import { accessToken } from './ids';
import type { Clock } from './time';

/**
 * OAuth client-credentials tokens. Lifetime 3599 s ("expires_in":"3599"), enforced
 * against the injectable clock. With `singleToken`, a new token revokes the older
 * ones, as the docs FAQ says Daraja does.
 */
export class TokenStore {
  private readonly tokens = new Map<string, number>(); // token → expiry (ms)
  singleToken: boolean;

  constructor(
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
    private readonly consumerKey: string,
    private readonly consumerSecret: string,
    singleToken: boolean,
  ) {
    this.singleToken = singleToken;
  }

  /** Checks `Authorization: Basic base64(key:secret)` and grant type; returns a new token. */
  issue(authorization: string | undefined, grantType: unknown): { access_token: string; expires_in: string } {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw errors.invalidAuthentication();
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const expected = `${this.consumerKey}:${this.consumerSecret}`;
    if (!safeEqual(decoded, expected)) throw errors.invalidAuthentication();
    if (grantType !== 'client_credentials') throw errors.invalidGrantType();
    if (this.singleToken) this.tokens.clear();
    const token = accessToken();
    this.tokens.set(token, this.clock.now() + this.ttlSeconds * 1000);
    return { access_token: token, expires_in: String(this.ttlSeconds) };
  }

  /** Throws Daraja's invalid-token error unless `Authorization: Bearer <live token>`. */
  check(authorization: string | undefined): void {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw errors.invalidAuthHeader();
    const expiry = this.tokens.get(m[1]!);
    if (expiry === undefined || this.clock.now() >= expiry) throw errors.invalidToken();
  }

  /** Control API: make every issued token invalid now. */
  expireAll(): number {
    const n = this.tokens.size;
    this.tokens.clear();
    return n;
  }

  get size(): number {
    return this.tokens.size;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
