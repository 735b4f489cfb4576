/** Talks to the API the way a dApp does, through `yoga.fetch` (no port). */
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import type { Api } from '../../src/app';

export interface GqlResult<T = any> { status: number; data: T; extensions?: { responseCache?: { hit?: boolean } } & Record<string, unknown>; errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[]; headers: Headers }

/** What a Node server hands Yoga for a connection from `peer` (the socket's remote address). */
export const fromPeer = (peer: string) => ({ req: { socket: { remoteAddress: peer } } });

/** `peer`: the address the request comes from, as its socket's remote address (default: none, one shared "local" client). */
export async function gql<T = any>(api: Api, query: string, variables: Record<string, unknown> = {}, opts: { token?: string; headers?: Record<string, string>; peer?: string } = {}): Promise<GqlResult<T>> {
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) },
    body: JSON.stringify({ query, variables }),
  };
  const res = await (opts.peer ? api.yoga.fetch('http://api.test/graphql', init, fromPeer(opts.peer)) : api.yoga.fetch('http://api.test/graphql', init));
  const body = (await res.json()) as { data: T; errors?: GqlResult['errors']; extensions?: GqlResult['extensions'] };
  return { status: res.status, data: body.data, extensions: body.extensions, errors: body.errors, headers: res.headers };
}

export const codes = (r: GqlResult) => (r.errors ?? []).map((e) => e.extensions?.code);

export const CHALLENGE = `mutation($a: String!) { requestLoginChallenge(address: $a) { message nonce expiresAt } }`;
export const LOGIN = `mutation($a: String!, $s: String!, $n: String) { login(address: $a, signature: $s, nonce: $n) { token expiresAt refreshToken refreshExpiresAt user { address roles } } }`;

/** The full wallet login (challenge, personal_sign, login): the access and refresh tokens. */
export async function signIn(api: Api, who: { address: string; privateKey: string }): Promise<{ token: string; refreshToken: string }> {
  const c = await gql(api, CHALLENGE, { a: who.address });
  const signature = await privateKeyToAccount(who.privateKey as Hex).signMessage({ message: c.data.requestLoginChallenge.message });
  const r = await gql(api, LOGIN, { a: who.address, s: signature });
  if (r.errors) throw new Error(`login failed: ${JSON.stringify(r.errors)}`);
  return { token: r.data.login.token, refreshToken: r.data.login.refreshToken };
}

/** The access token of a fresh sign-in. */
export async function login(api: Api, who: { address: string; privateKey: string }): Promise<string> {
  return (await signIn(api, who)).token;
}

export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
