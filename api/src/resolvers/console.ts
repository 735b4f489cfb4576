/** What the web console (/console) asks about this deployment before anything else. */
import { DEV_ROLES, isAnvilAddress, isDevelopment } from '@descrow/common';
import type { Ctx } from '../context';

/**
 * In development the console signs as anvil's accounts through the dev chain's RPC, which
 * holds them unlocked: the browser gets addresses and a URL, never a key. Outside
 * development there is no dev wallet at all.
 */
function devWallet(ctx: Ctx) {
  const { config, admins, arbiterAddress } = ctx.deps;
  if (!isDevelopment(config)) return null;
  const candidates = [
    { role: 'admin', address: DEV_ROLES.owner.address.toLowerCase() },
    { role: 'arbiter', address: arbiterAddress },
    { role: 'buyer', address: DEV_ROLES.buyer.address.toLowerCase() },
    { role: 'seller', address: DEV_ROLES.seller.address.toLowerCase() },
  ];
  // Only accounts anvil can sign for, and "admin" only when that account really is one.
  const accounts = candidates.filter((a) => isAnvilAddress(a.address) && (a.role !== 'admin' || admins.has(a.address)));
  return { rpcUrl: config.RPC_URL, accounts };
}

export const consoleResolvers = {
  Query: {
    consoleSettings: (_: unknown, __: unknown, ctx: Ctx) => ({
      chainId: ctx.deps.config.CHAIN_ID,
      escrowAddress: ctx.deps.escrowAddress,
      arbiterAddress: ctx.deps.arbiterAddress,
      environment: ctx.deps.config.NODE_ENV,
      devWallet: devWallet(ctx),
    }),
  },
};
