/**
 * Live streams (GraphQL subscriptions over SSE): how many each client IP and each
 * signed-in user may hold open on this instance, and when a stream opened with a token
 * must end — at the token's expiry, or as soon as its session is revoked (logout, log out
 * everywhere, a reused refresh token) on any instance (../auth/sessions announces it
 * through Redis). A stream also asks whether its session still stands before every event
 * (before resolving it, and again once it is resolved, right before it is sent:
 * useStreamSessionCheck), so an event that was being prepared when the session ended,
 * or an announcement that went missing, sends nothing private.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Session } from '../auth/jwt';
import type { Revocation, SessionStore } from '../auth/sessions';

export interface StreamCaps { perIp: number; perUser: number; total: number }

/** One open stream. `ended` settles when it must close (with the reason to send, or null: already sent); `check` asks before an event. */
export interface StreamLease {
  ended: Promise<GraphQLError | null>;
  /** Null while the stream may go on; else the reason it must end now. */
  check(): Promise<GraphQLError | null>;
  /** Ends the stream after the event under way (its reason was sent in that event's place). */
  close(): void;
  release(): void;
}

/** Where a subscription's context keeps its lease (set by the subscribe resolver). */
export interface WithStreamLease { stream?: StreamLease }

const ended = (message: string) => new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });
const EXPIRED = 'the token this stream was opened with has expired: sign in again (refreshSession) and resubscribe';
const SIGNED_OUT = 'this session was signed out: the stream is closed';

interface Open { ip: string; session: Session | null; end: (e: GraphQLError | null) => void }

export class StreamRegistry {
  private readonly open = new Set<Open>();
  private readonly byIp = new Map<string, number>();
  private readonly byUser = new Map<string, number>();

  constructor(private readonly caps: StreamCaps, private readonly sessions: SessionStore, private readonly now = () => Date.now()) {
    sessions.onRevoked((r) => this.revoked(r));
  }

  get size(): number {
    return this.open.size;
  }

  private revoked(r: Revocation): void {
    for (const o of this.open) {
      const s = o.session;
      if (!s) continue;
      if (r.sessionIds.includes(s.sessionId)) o.end(ended(SIGNED_OUT));
    }
  }

  /** Opens a stream for this client, or refuses with RATE_LIMITED when a cap is reached. */
  lease(ip: string, session: Session | null): StreamLease {
    const user = session?.address ?? null;
    const refuse = (what: string, n: number) => {
      throw new GraphQLError(`too many open streams ${what} (at most ${n}): close one first`, { extensions: { code: 'RATE_LIMITED', http: { status: 429 } } });
    };
    if (this.open.size >= this.caps.total) refuse('on this server', this.caps.total);
    if ((this.byIp.get(ip) ?? 0) >= this.caps.perIp) refuse('from your address', this.caps.perIp);
    if (user && (this.byUser.get(user) ?? 0) >= this.caps.perUser) refuse('for your account', this.caps.perUser);

    let end!: (e: GraphQLError | null) => void;
    const done = new Promise<GraphQLError | null>((r) => (end = r));
    const entry: Open = { ip, session, end };
    this.open.add(entry);
    this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
    if (user) this.byUser.set(user, (this.byUser.get(user) ?? 0) + 1);
    const timer = session ? setTimeout(() => end(ended(EXPIRED)), Math.min(2 ** 31 - 1, Math.max(0, session.expiresAt * 1000 - this.now()))) : null;
    timer?.unref();

    let released = false;
    const dec = (m: Map<string, number>, k: string) => {
      const n = (m.get(k) ?? 1) - 1;
      if (n <= 0) m.delete(k);
      else m.set(k, n);
    };
    return {
      ended: done,
      check: async () => {
        if (!session) return null;
        if (session.expiresAt * 1000 <= this.now()) return ended(EXPIRED);
        return (await this.sessions.isRevoked(session)) ? ended(SIGNED_OUT) : null;
      },
      close: () => end(null),
      release: () => {
        if (released) return;
        released = true;
        if (timer) clearTimeout(timer);
        this.open.delete(entry);
        dec(this.byIp, ip);
        if (user) dec(this.byUser, user);
      },
    };
  }
}

/**
 * The last look before an event goes out: the event has been resolved (which takes
 * database reads, time in which a logout can land on any instance); if the stream's
 * session has ended meanwhile, the client gets the reason instead of the event, and the
 * stream closes.
 */
export function useStreamSessionCheck(): Plugin {
  return {
    onSubscribe: () => ({
      onSubscribeResult: ({ args }) => ({
        onNext: async ({ setResult }) => {
          const lease = (args.contextValue as WithStreamLease).stream;
          const why = lease ? await lease.check() : null;
          if (!why) return;
          setResult({ errors: [why] });
          lease!.close();
        },
      }),
    }),
  };
}
