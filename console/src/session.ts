/**
 * Signing in (EIP-4361 through the API's challenge) and the session that follows: kept in
 * sessionStorage (this tab only), renewed with the refresh token, ended with logout.
 */
import { graphql } from './gql';
import { request } from './api';
import { browserProvider, devProvider, requestAddress, signMessage, type Signer } from './wallet';

export interface Session {
  address: string;
  roles: string[];
  token: string;
  expiresAt: string;
  refreshToken: string;
  /** How to get the signer back after a reload. */
  wallet: { kind: 'browser' } | { kind: 'dev'; rpcUrl: string; role: string };
}

const KEY = 'descrow.console.session';

const Challenge = graphql(`
  mutation ConsoleChallenge($address: String!) { requestLoginChallenge(address: $address) { message nonce } }
`);
const Login = graphql(`
  mutation ConsoleLogin($address: String!, $signature: String!, $nonce: String) {
    login(address: $address, signature: $signature, nonce: $nonce) { token expiresAt refreshToken refreshExpiresAt user { address roles } }
  }
`);
const Refresh = graphql(`
  mutation ConsoleRefresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { token expiresAt refreshToken refreshExpiresAt user { address roles } }
  }
`);
const Logout = graphql(`mutation ConsoleLogout { logout }`);

class SessionStore {
  private current: Session | null = read();
  private listeners = new Set<() => void>();
  private renewing: Promise<string | null> | null = null;
  /** While signing in or renewing, requests go without a token. */
  private anonymous = 0;

  get = () => this.current;
  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  private set(s: Session | null) {
    this.current = s;
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
    else sessionStorage.removeItem(KEY);
    for (const fn of this.listeners) fn();
  }

  async accessToken(): Promise<string | null> {
    if (!this.current || this.anonymous) return null;
    if (Date.parse(this.current.expiresAt) - Date.now() < 10_000) return this.renew();
    return this.current.token;
  }

  renew(): Promise<string | null> {
    this.renewing ??= (async () => {
      const s = this.current;
      if (!s) return null;
      this.anonymous++;
      try {
        const { refreshSession: r } = await request(Refresh, { refreshToken: s.refreshToken });
        this.set({ ...s, token: r.token, expiresAt: r.expiresAt, refreshToken: r.refreshToken, roles: r.user.roles });
        return r.token;
      } catch {
        this.set(null); // the session ended (expired, signed out elsewhere): sign in again
        return null;
      } finally {
        this.anonymous--;
        this.renewing = null;
      }
    })();
    return this.renewing;
  }

  signer(): Signer | null {
    const s = this.current;
    if (!s) return null;
    if (s.wallet.kind === 'dev') return { address: s.address, provider: devProvider(s.wallet.rpcUrl, s.address), label: `dev wallet (${s.wallet.role})` };
    const provider = browserProvider();
    return provider ? { address: s.address, provider, label: 'browser wallet' } : null;
  }

  async signIn(signer: Signer, wallet: Session['wallet']): Promise<Session> {
    this.anonymous++;
    try {
      const { requestLoginChallenge: c } = await request(Challenge, { address: signer.address });
      const signature = await signMessage(signer, c.message);
      const { login } = await request(Login, { address: signer.address, signature, nonce: c.nonce });
      const s: Session = { address: login.user.address, roles: login.user.roles, token: login.token, expiresAt: login.expiresAt, refreshToken: login.refreshToken, wallet };
      this.set(s);
      return s;
    } finally {
      this.anonymous--;
    }
  }

  async signInWithBrowserWallet(): Promise<Session> {
    const provider = browserProvider();
    if (!provider) throw new Error('no browser wallet found (install one that supports EIP-1193, e.g. a MetaMask-compatible extension)');
    const address = await requestAddress(provider);
    return this.signIn({ address, provider, label: 'browser wallet' }, { kind: 'browser' });
  }

  signInAsDev(rpcUrl: string, role: string, address: string): Promise<Session> {
    return this.signIn({ address: address.toLowerCase(), provider: devProvider(rpcUrl, address), label: `dev wallet (${role})` }, { kind: 'dev', rpcUrl, role });
  }

  async signOut() {
    await request(Logout).catch(() => undefined);
    this.set(null);
  }
}

function read(): Session | null {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
  } catch {
    return null;
  }
}

export const session = new SessionStore();
