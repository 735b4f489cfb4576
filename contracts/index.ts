/**
 * The escrow contract's public face for every other part: the typed ABI, bytecode,
 * enum names and the conventions that cross boundaries (order ids, receipt hashes).
 */
import { randomBytes } from 'node:crypto';
import { encodeAbiParameters, getAddress, keccak256, toHex, type Hex } from 'viem';
import { escrowAbi, escrowBytecode, escrowCompiler } from './generated/escrow';

export { escrowAbi, escrowBytecode, escrowCompiler };

/** `Escrow.Status` in declaration order. */
export const ORDER_STATUSES = [
  'NONE', 'CREATED', 'FUNDED', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'DISPUTED', 'RESOLVED', 'CANCELLED', 'REFUNDED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** `Escrow.PaymentMode` in declaration order. */
export const PAYMENT_MODES = ['NATIVE', 'MPESA'] as const;
export type PaymentMode = (typeof PAYMENT_MODES)[number];
export const PaymentModeId = { NATIVE: 0, MPESA: 1 } as const;

export function statusName(id: number): OrderStatus {
  const s = ORDER_STATUSES[id];
  if (!s) throw new Error(`unknown order status ${id}`);
  return s;
}

export function paymentModeName(id: number): PaymentMode {
  const m = PAYMENT_MODES[id];
  if (!m) throw new Error(`unknown payment mode ${id}`);
  return m;
}

/**
 * The id of the order `creator` makes with `salt`: `Escrow.orderIdFor`, computed off chain.
 * A native order's creator is its buyer; an M-Pesa order's is the oracle. No other account
 * can create an order under that id, so an id known at drafting time cannot be squatted.
 */
export function orderIdFor(creator: `0x${string}`, salt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }], [getAddress(creator), salt]));
}

/** A fresh random salt for a new order. */
export function newOrderSalt(): Hex {
  return toHex(randomBytes(32));
}

/** Receipts go on chain hashed: keccak256 of the upper-case M-Pesa receipt's UTF-8 bytes. */
export function receiptHash(mpesaReceipt: string): Hex {
  return keccak256(toHex(mpesaReceipt.trim().toUpperCase()));
}

export const BPS = 10_000n;

/** The contract's split, in plain bigint arithmetic (fee only on the seller's part, floored). */
export function payoutSplit(amount: bigint, feeBps: number, buyerShareBps = 0): { buyerAmount: bigint; sellerAmount: bigint; fee: bigint } {
  const buyerAmount = (amount * BigInt(buyerShareBps)) / BPS;
  const sellerGross = amount - buyerAmount;
  const fee = (sellerGross * BigInt(feeBps)) / BPS;
  return { buyerAmount, sellerAmount: sellerGross - fee, fee };
}

/** Shape of the deployment file written by `sandbox/chain` and read by every part. */
export interface Deployment {
  chainId: number;
  rpcUrl: string;
  address: `0x${string}`;
  deployBlock: number;
  deployTxHash: `0x${string}`;
  bytecodeHash: `0x${string}`;
  roles: { owner: `0x${string}`; oracle: `0x${string}`; arbiter: `0x${string}`; treasury: `0x${string}` };
  feeBps: number;
  deployedAt: string;
}
