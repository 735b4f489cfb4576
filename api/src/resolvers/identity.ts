/** Wallet login (EIP-4361 challenge → signature → JWT), `me`, profiles. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { challengeMessage, newNonce, signatureMatches } from '../auth/siwe';
import { hasRole, requireUser } from '../auth/guards';
import type { Role } from '../auth/jwt';
import { fail } from '../errors';
import { address, parse, phone } from '../validate';
import type { Ctx } from '../context';
import type { UserRow } from '../data/loaders';
import { listProducts } from './products';
import { pageSize } from './pagination';

/** Who asked for a challenge: a hash of the client IP (the address itself is not stored). */
const requesterOf = (ctx: Ctx): string => createHash('sha256').update(`login-requester:${ctx.ip}`).digest('base64url').slice(0, 22);

/** What a User field resolver gets: the address and, when known, the profile row. */
export interface UserRef { address: string; row?: UserRow | null }

export const userRef = (a: string): UserRef => ({ address: a.toLowerCase() });

export function rolesFor(ctx: Ctx, a: string): Role[] {
  const roles: Role[] = ['BUYER', 'SELLER'];
  if (a === ctx.deps.arbiterAddress) roles.push('ARBITER');
  if (ctx.deps.admins.has(a)) roles.push('ADMIN');
  return roles;
}

async function row(ctx: Ctx, u: UserRef): Promise<UserRow | null> {
  if (u.row === undefined) u.row = await ctx.loaders.user.load(u.address);
  return u.row;
}

const profileInput = z.object({
  displayName: z.string().trim().min(1, 'must not be empty').max(60, 'at most 60 characters').nullish(),
  phone: z.string().transform((v, c) => {
    if (v.trim() === '') return '';
    const r = phone.safeParse(v);
    if (!r.success) {
      c.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
      return z.NEVER;
    }
    return r.data;
  }).nullish(),
});

export const identityResolvers = {
  Query: {
    me: (_: unknown, __: unknown, ctx: Ctx): UserRef => userRef(requireUser(ctx).address),
    async myPayments(_: unknown, args: { first?: number | null; before?: Date | null }, ctx: Ctx) {
      const s = requireUser(ctx);
      return ctx.deps.ledger.paymentsByBuyer(s.address, pageSize(ctx, args.first), args.before ?? undefined);
    },
    async myPayouts(_: unknown, args: { first?: number | null; before?: Date | null }, ctx: Ctx) {
      const s = requireUser(ctx);
      return ctx.deps.ledger.payoutsByBeneficiary(s.address, pageSize(ctx, args.first), args.before ?? undefined);
    },
    user: (_: unknown, args: { address: string }): UserRef => userRef(parse(address, args.address)),
  },
  Mutation: {
    async requestLoginChallenge(_: unknown, args: { address: string }, ctx: Ctx) {
      const a = parse(address, args.address);
      const { config, prisma } = ctx.deps;
      // Counted per client IP, whatever the address: nobody fills the table for free.
      const limit = await ctx.deps.challengeLimit.take(ctx.ip);
      if (!limit.ok) {
        fail('RATE_LIMITED', `too many sign-in challenges from your address (at most ${limit.limit} per ${config.LOGIN_CHALLENGE_WINDOW_SECONDS}s); try again in ${limit.retryAfterSeconds}s`, { retryAfterSeconds: limit.retryAfterSeconds });
      }
      const issuedAt = new Date();
      const expiresAt = new Date(issuedAt.getTime() + config.LOGIN_CHALLENGE_TTL * 1000);
      const nonce = newNonce();
      const message = challengeMessage({ domain: config.LOGIN_DOMAIN, uri: config.LOGIN_URI, chainId: config.CHAIN_ID, address: a, nonce, issuedAt, expiresAt });
      const requester = requesterOf(ctx);
      // Bounded per address AND requester: used and expired challenges go, and only the
      // requester's own newest few stay live — asking for someone's address from elsewhere
      // never drops theirs.
      await prisma.loginChallenge.deleteMany({ where: { address: a, OR: [{ usedAt: { not: null } }, { expiresAt: { lte: issuedAt } }] } });
      const keep = await prisma.loginChallenge.findMany({ where: { address: a, requester }, orderBy: { createdAt: 'desc' }, take: config.LOGIN_CHALLENGES_PER_ADDRESS - 1, select: { nonce: true } });
      await prisma.loginChallenge.deleteMany({ where: { address: a, requester, nonce: { notIn: keep.map((c) => c.nonce) } } });
      await prisma.loginChallenge.create({ data: { nonce, address: a, message, expiresAt, requester } });
      return { message, nonce, expiresAt };
    },

    async login(_: unknown, args: { address: string; signature: string; nonce?: string | null }, ctx: Ctx) {
      const a = parse(address, args.address);
      const signature = parse(z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte hex signature'), args.signature);
      const { prisma } = ctx.deps;
      // With the nonce: that challenge. Without: the newest this requester asked for (never
      // one someone else asked for since, which would not match the signature).
      const challenge = args.nonce
        ? await prisma.loginChallenge.findUnique({ where: { nonce: args.nonce } })
        : await prisma.loginChallenge.findFirst({ where: { address: a, requester: requesterOf(ctx), usedAt: null }, orderBy: { createdAt: 'desc' } });
      if (!challenge || challenge.address !== a) fail('UNAUTHENTICATED', 'no sign-in challenge for this address: request one first');
      if (challenge.usedAt) fail('UNAUTHENTICATED', 'this sign-in challenge was already used: request a new one');
      if (challenge.expiresAt.getTime() <= Date.now()) fail('UNAUTHENTICATED', 'this sign-in challenge has expired: request a new one');
      if (!(await signatureMatches(a, challenge.message, signature))) fail('UNAUTHENTICATED', 'the signature does not match the challenge and address');
      // Consume the nonce atomically: of two concurrent logins with it, one wins.
      const used = await prisma.loginChallenge.updateMany({ where: { nonce: challenge.nonce, usedAt: null }, data: { usedAt: new Date() } });
      if (used.count !== 1) fail('UNAUTHENTICATED', 'this sign-in challenge was already used: request a new one');
      await prisma.user.upsert({ where: { address: a }, create: { address: a }, update: {} });
      await ctx.deps.cache.invalidate('user', a);
      const roles = rolesFor(ctx, a);
      const issued = await ctx.deps.sessions.begin(a, roles);
      ctx.log.info({ address: a, roles }, 'login');
      return { ...issued, user: userRef(a) };
    },

    async refreshSession(_: unknown, args: { refreshToken: string }, ctx: Ctx) {
      const token = parse(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected a refresh token from login or refreshSession'), args.refreshToken);
      const issued = await ctx.deps.sessions.refresh(token, (a) => rolesFor(ctx, a));
      return { ...issued, user: userRef(issued.address) };
    },

    async logout(_: unknown, __: unknown, ctx: Ctx) {
      const s = requireUser(ctx);
      await ctx.deps.sessions.revoke(s.sessionId, 'logout');
      ctx.log.info({ address: s.address }, 'logout');
      return true;
    },

    async logoutEverywhere(_: unknown, __: unknown, ctx: Ctx) {
      const s = requireUser(ctx);
      const n = await ctx.deps.sessions.revokeAll(s.address, 'logout everywhere');
      ctx.log.info({ address: s.address, sessions: n }, 'logout everywhere');
      return n;
    },

    async updateProfile(_: unknown, args: { input: unknown }, ctx: Ctx) {
      const s = requireUser(ctx);
      const input = parse(profileInput, args.input);
      const data: { displayName?: string | null; phone?: string | null } = {};
      if (input.displayName !== undefined) data.displayName = input.displayName;
      if (input.phone !== undefined) data.phone = input.phone === '' ? null : input.phone;
      await ctx.deps.prisma.user.upsert({ where: { address: s.address }, create: { address: s.address, ...data }, update: data });
      await ctx.deps.cache.invalidate('user', s.address);
      ctx.loaders.user.clear(s.address);
      return userRef(s.address);
    },
  },
  User: {
    address: (u: UserRef) => u.address,
    displayName: async (u: UserRef, _: unknown, ctx: Ctx) => (await row(ctx, u))?.displayName ?? null,
    phone: async (u: UserRef, _: unknown, ctx: Ctx) => {
      if (ctx.session?.address !== u.address && !hasRole(ctx, 'ADMIN')) return null;
      return (await row(ctx, u))?.phone ?? null;
    },
    roles: (u: UserRef, _: unknown, ctx: Ctx) => rolesFor(ctx, u.address),
    products: (u: UserRef, args: { first?: number; after?: string }, ctx: Ctx) => listProducts(ctx, { seller: u.address }, args.first, args.after),
  },
};
