import { fail } from '../errors';
import type { Ctx } from '../context';
import type { Role, Session } from './jwt';

/** The logged-in user, or UNAUTHENTICATED with the reason the token was refused. */
export function requireUser(ctx: Ctx): Session {
  if (ctx.session) return ctx.session;
  return fail('UNAUTHENTICATED', ctx.authError ?? 'log in first (Authorization: Bearer <token>)');
}

export function requireRole(ctx: Ctx, role: Role): Session {
  const s = requireUser(ctx);
  if (!hasRole(ctx, role)) fail('FORBIDDEN', `requires the ${role.toLowerCase()} role`);
  return s;
}

export function hasRole(ctx: Ctx, role: Role): boolean {
  if (!ctx.session) return false;
  // Admin is re-checked against the configuration, so removing an address takes effect at once.
  if (role === 'ADMIN') return ctx.session.roles.includes('ADMIN') && ctx.deps.admins.has(ctx.session.address);
  // The arbiter is whoever the contract names: a token from before a change of arbiter does not carry it on.
  if (role === 'ARBITER') return ctx.session.address === ctx.deps.arbiterAddress;
  return ctx.session.roles.includes(role);
}

export function isPartyOrAdmin(ctx: Ctx, ...parties: string[]): boolean {
  if (!ctx.session) return false;
  return parties.includes(ctx.session.address) || hasRole(ctx, 'ADMIN');
}
