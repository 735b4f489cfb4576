/**
 * Test harness: a real anvil node per test file, the real compiled Escrow, one viem
 * wallet per role, and helpers to send a call and read its decoded events or its
 * custom-error name. Nothing here imitates the chain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BaseError, ContractFunctionRevertedError, createPublicClient, getAddress, createTestClient, createWalletClient, http, parseEventLogs,
  keccak256, toHex, type Address, type Hex, type PublicClient, type TestClient,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { chainFor, ANVIL_ACCOUNTS, startAnvil, type AnvilHandle } from '@descrow/common';
import { escrowAbi, escrowBytecode, orderIdFor } from '../index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const solc = require('solc') as { compile(input: string): string };

export const FEE_BPS = 250;
export const NATIVE = 0;
export const MPESA = 1;
export const Status = { None: 0, Created: 1, Funded: 2, Shipped: 3, Delivered: 4, Completed: 5, Disputed: 6, Resolved: 7, Cancelled: 8, Refunded: 9 } as const;

const accounts = ANVIL_ACCOUNTS.map((a) => privateKeyToAccount(a.privateKey));
export const [owner, oracle, arbiter, treasury, buyer, seller, stranger, buyer2] = accounts as [
  PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount,
];

let counter = 0;
export const newSalt = (): Hex => keccak256(toHex(`order-${process.pid}-${Date.now()}-${counter++}`));
/** A fresh salt and the order id `creator` gets with it (ids are bound to their creator). */
export function newOrder(creator: { address: Address }): { salt: Hex; id: Hex } {
  const salt = newSalt();
  return { salt, id: orderIdFor(creator.address, salt) };
}
/** An id no order has. */
export const unknownOrderId = (): Hex => newOrder(owner).id;
export const WEEK = 7 * 24 * 3600;
export const THREE_DAYS = 3 * 24 * 3600;
/** OrderCreated's window arguments for the default windows. */
export const DEFAULT_WINDOWS = { shippingWindow: WEEK, confirmationWindow: THREE_DAYS } as const;
export const receipt = (text: string): Hex => keccak256(toHex(text));

export type EscrowFn = (typeof escrowAbi)[number] extends infer T ? (T extends { type: 'function'; name: infer N } ? N : never) : never;

export interface Harness {
  anvil: AnvilHandle;
  pub: PublicClient;
  test: TestClient;
  escrow: Address;
  /** Send `fn(args)` from `from`; resolves with the decoded Escrow events and gas used. */
  send: (from: PrivateKeyAccount, fn: EscrowFn, args: readonly unknown[], value?: bigint, to?: Address) => Promise<{ events: DecodedEvent[]; gasUsed: bigint; hash: Hex }>;
  /** Simulate `fn(args)` from `from` and return the custom error's name it reverts with. */
  revertName: (from: PrivateKeyAccount | Address, fn: EscrowFn, args: readonly unknown[], value?: bigint) => Promise<{ name: string; args: readonly unknown[] }>;
  read: <T = unknown>(fn: EscrowFn, args?: readonly unknown[]) => Promise<T>;
  balance: (a: Address) => Promise<bigint>;
  /** Move chain time forward (seconds) and mine a block. */
  advance: (seconds: number) => Promise<void>;
  deployRaw: (abi: readonly unknown[], bytecode: Hex, args: readonly unknown[]) => Promise<Address>;
  stop: () => Promise<void>;
}

export interface DecodedEvent { eventName: string; args: Record<string, unknown> }

export async function startHarness(feeBps = FEE_BPS): Promise<Harness> {
  const anvil = await startAnvil();
  const transport = http(anvil.url);
  const chain = chainFor(anvil.url);
  const pub = createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 20 }) as PublicClient;
  const test = createTestClient({ chain, mode: 'anvil', transport });
  const wallet = (a: PrivateKeyAccount) => createWalletClient({ account: a, chain, transport });

  const deployRaw = async (abi: readonly unknown[], bytecode: Hex, args: readonly unknown[]) => {
    const hash = await wallet(owner).deployContract({ abi: abi as never, bytecode, args: args as never });
    const r = await pub.waitForTransactionReceipt({ hash });
    if (!r.contractAddress) throw new Error('deploy failed');
    return getAddress(r.contractAddress);
  };
  const escrow = await deployRaw(escrowAbi, escrowBytecode, [owner.address, oracle.address, arbiter.address, feeBps]);

  const send: Harness['send'] = async (from, fn, args, value, to) => {
    const hash = await wallet(from).writeContract({ address: to ?? escrow, abi: escrowAbi, functionName: fn, args, value, gas: 1_000_000n } as never);
    const r = await pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new Error(`${fn} reverted`);
    const events = parseEventLogs({ abi: escrowAbi, logs: r.logs }).map((l) => ({ eventName: l.eventName, args: l.args as Record<string, unknown> }));
    return { events, gasUsed: r.gasUsed, hash };
  };
  const revertName: Harness['revertName'] = async (from, fn, args, value) => {
    try {
      await pub.simulateContract({ address: escrow, abi: escrowAbi, functionName: fn, args, value, account: typeof from === 'string' ? from : from.address } as never);
    } catch (err) {
      if (err instanceof BaseError) {
        const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
        if (reverted instanceof ContractFunctionRevertedError && reverted.data) return { name: reverted.data.errorName, args: reverted.data.args ?? [] };
      }
      throw err;
    }
    throw new Error(`${fn} did not revert`);
  };
  const read = async <T,>(fn: EscrowFn, args: readonly unknown[] = []) =>
    (await pub.readContract({ address: escrow, abi: escrowAbi, functionName: fn, args } as never)) as T;
  return {
    anvil, pub, test, escrow, send, revertName, read, deployRaw,
    balance: (a) => pub.getBalance({ address: a }),
    advance: async (seconds) => {
      await test.increaseTime({ seconds });
      await test.mine({ blocks: 1 });
    },
    stop: () => anvil.stop(),
  };
}

/** Compile a Solidity test fixture (same solc as the build). */
export function compileFixture(file: string, contract: string): { abi: readonly unknown[]; bytecode: Hex } {
  const content = readFileSync(join(__dirname, 'fixtures', file), 'utf8');
  const input = { language: 'Solidity', sources: { [file]: { content } }, settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e: { severity: string }) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e: { formattedMessage: string }) => e.formattedMessage).join('\n'));
  const c = out.contracts[file][contract];
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

export interface OrderView {
  orderId: Hex; buyer: Address; seller: Address; amount: bigint; mode: number; status: number; feeBps: number; buyerShareBps: number;
  createdAt: bigint; fundedAt: bigint; shippedAt: bigint; deadline: bigint; paymentReceipt: Hex; sellerPayoutDue: boolean; buyerRefundDue: boolean;
  shippingWindow: number; confirmationWindow: number;
}
