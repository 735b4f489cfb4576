/**
 * Drives the real Escrow on a real anvil for the integration tests and the benchmark:
 * many orders through every path of the life cycle, sent as JSON-RPC batches from
 * anvil's unlocked dev accounts and mined in controlled blocks (`evm_mine`), then
 * read back through the contract's own view functions.
 */
import { decodeFunctionResult, encodeFunctionData, keccak256, toHex, type Address, type Hex } from 'viem';
import { ANVIL_ACCOUNTS, DEV_ROLES, startAnvil, type AnvilHandle } from '@descrow/common';
import { escrowAbi, orderIdFor, statusName, paymentModeName, payoutSplit, type Deployment } from '@descrow/contracts';
import { deployEscrow } from '../../sandbox/chain/deploy';
import type { IndexerTarget } from '../../project';

export type EscrowFn = Extract<(typeof escrowAbi)[number], { type: 'function' }>['name'];

export interface Call {
  from: Address;
  fn: EscrowFn;
  args: readonly unknown[];
  value?: bigint;
}

export interface DevChain {
  anvil: AnvilHandle;
  url: string;
  deployment: Deployment;
  /** What an indexer node needs to index this chain's contract from its deploy block. */
  target: IndexerTarget;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Send the calls (in order, one batch) and mine them into `perBlock`-sized blocks; throws if any reverted. */
  mine(calls: Call[], perBlock?: number): Promise<void>;
  /** Mine `count` empty blocks at once (anvil_mine), e.g. the quiet stretches of a sparse chain. */
  mineEmpty(count: number): Promise<void>;
  /** One block per call (automine), for workloads of one event per block. */
  mineEach(calls: Call[], onProgress?: (done: number) => void): Promise<void>;
  head(): Promise<number>;
  /** Forget cached nonces (after a reorg changed them). */
  resetNonces(): void;
  /** The transaction request `mine` would send for a call (nonce left to the node). */
  txFor(call: Call): Record<string, string>;
  stop(): Promise<void>;
}

const GAS = 400_000n;
const WINDOW = 3_600; // shipping and confirmation windows (s): the contract's floor, so timeouts can be claimed in tests
const PAUSE = 1_800; // how long driveOrders pauses the contract (s)

export async function startDevChain(opts: { feeBps?: number } = {}): Promise<DevChain> {
  // A large block gas limit, so a block can hold hundreds of escrow calls.
  const anvil = await startAnvil({ extraArgs: ['--gas-limit', '3000000000', '--order', 'fifo'] });
  const { deployment } = await deployEscrow({ rpcUrl: anvil.url, feeBps: opts.feeBps ?? 250, windows: { shipping: WINDOW, confirmation: WINDOW } });
  let id = 0;
  const post = async (body: unknown): Promise<unknown> => {
    const res = await fetch(anvil.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`anvil answered ${res.status}`);
    return res.json();
  };
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const r = (await post({ jsonrpc: '2.0', id: ++id, method, params })) as { result?: T; error?: { message: string } };
    if (r.error) throw new Error(`${method}: ${r.error.message}`);
    return r.result as T;
  };
  const batch = async (reqs: { method: string; params: unknown[] }[]): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (let i = 0; i < reqs.length; i += 500) {
      const chunk = reqs.slice(i, i + 500).map((r) => ({ jsonrpc: '2.0', id: ++id, ...r }));
      const res = (await post(chunk)) as { id: number; result?: unknown; error?: { message: string } }[];
      res.sort((a, b) => a.id - b.id);
      for (const r of res) {
        if (r.error) throw new Error(`${chunk.find((c) => c.id === r.id)?.method}: ${r.error.message}`);
        out.push(r.result);
      }
    }
    return out;
  };
  const nonces = new Map<string, number>();
  const nonceOf = async (a: Address) => {
    const key = a.toLowerCase();
    if (!nonces.has(key)) nonces.set(key, Number(await rpc<Hex>('eth_getTransactionCount', [a, 'pending'])));
    const n = nonces.get(key)!;
    nonces.set(key, n + 1);
    return n;
  };
  await rpc('evm_setAutomine', [false]);
  const txFor = (c: Call) => ({
    from: c.from,
    to: deployment.address,
    data: encodeFunctionData({ abi: escrowAbi, functionName: c.fn, args: c.args } as never),
    value: toHex(c.value ?? 0n),
    gas: toHex(GAS),
    gasPrice: toHex(2_000_000_000n),
  });

  return {
    txFor,
    resetNonces: () => nonces.clear(),
    anvil,
    url: anvil.url,
    deployment,
    target: { chainId: '31337', rpcUrl: anvil.url, contractAddress: deployment.address, startBlock: deployment.deployBlock },
    rpc,
    head: async () => Number(await rpc<Hex>('eth_blockNumber')),
    async mineEach(calls, onProgress) {
      const before = Number(await rpc<Hex>('eth_blockNumber'));
      for (let i = 0; i < calls.length; i++) {
        await rpc('eth_sendTransaction', [{ ...txFor(calls[i]!), nonce: toHex(await nonceOf(calls[i]!.from)) }]);
        await rpc('evm_mine');
        if (onProgress && i % 1000 === 999) onProgress(i + 1);
      }
      const after = Number(await rpc<Hex>('eth_blockNumber'));
      if (after - before !== calls.length) throw new Error(`expected ${calls.length} blocks, got ${after - before}`);
    },
    async mineEmpty(count) {
      if (count > 0) await rpc('anvil_mine', [toHex(count)]);
    },
    async mine(calls, perBlock = 1_000) {
      for (let i = 0; i < calls.length; i += perBlock) {
        const slice = calls.slice(i, i + perBlock);
        const txs = [];
        for (const c of slice) {
          txs.push({
            method: 'eth_sendTransaction',
            params: [{ ...txFor(c), nonce: toHex(await nonceOf(c.from)) }],
          });
        }
        const hashes = (await batch(txs)) as Hex[];
        await rpc('evm_mine');
        const receipts = (await batch(hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))) as ({ status: Hex; blockNumber: Hex } | null)[];
        const blocks = new Set(receipts.map((r) => r?.blockNumber));
        receipts.forEach((r, k) => {
          if (!r) throw new Error(`${slice[k]!.fn} was not mined (block full?)`);
          if (r.status !== '0x1') throw new Error(`${slice[k]!.fn}(${JSON.stringify(slice[k]!.args, (_x, v) => (typeof v === 'bigint' ? v.toString() : v))}) reverted`);
        });
        if (blocks.size !== 1) throw new Error(`expected one block, the calls landed in ${blocks.size}`);
      }
    },
    async stop() {
      await anvil.stop();
    },
  };
}

// ------------------------------------------------------------------ order workloads

export const ROLES = {
  oracle: DEV_ROLES.oracle.address as Address,
  arbiter: DEV_ROLES.arbiter.address as Address,
  owner: DEV_ROLES.owner.address as Address,
};
/** Buyers and sellers: dev accounts 4..9. */
export const PARTIES = ANVIL_ACCOUNTS.slice(4).map((a) => a.address as Address);

const salts = new Map<Hex, Hex>();
/**
 * The id of the test order `label` created by `creator` (default: the first party, the
 * tests' buyer). Ids are bound to their creator on chain, so the create call takes the
 * salt: `saltFor(id)`.
 */
export function orderId(label: string, creator: Address = PARTIES[0]!): Hex {
  const salt = keccak256(toHex(`descrow-indexer-test:${label}`));
  const id = orderIdFor(creator, salt);
  salts.set(id, salt);
  return id;
}
/** The salt an id from `orderId` was made with (what createOrder / createOffchainOrder take). */
export function saltFor(id: Hex): Hex {
  const salt = salts.get(id);
  if (!salt) throw new Error(`no salt known for order ${id}`);
  return salt;
}
const receiptOf = (label: string): Hex => keccak256(toHex(`MPESA-${label}`));

type Path =
  | 'nativeHappy' | 'nativeFundLater' | 'nativeConfirmUnshipped' | 'nativeCancel' | 'nativeDisputeSplit'
  | 'nativeDisputeRefund' | 'nativeShipTimeout' | 'nativeConfirmTimeout' | 'nativeOpen'
  | 'nativeDisputeOpen' | 'mpesaHappy' | 'mpesaCancel' | 'mpesaDisputeSplit' | 'mpesaTimeoutRefund' | 'mpesaAwaitingPayout'
  | 'mpesaShipped' | 'mpesaOpen';

export const PATHS: Path[] = [
  'nativeHappy', 'nativeFundLater', 'nativeConfirmUnshipped', 'nativeCancel', 'nativeDisputeSplit', 'nativeDisputeRefund',
  'nativeShipTimeout', 'nativeConfirmTimeout', 'nativeOpen', 'nativeDisputeOpen', 'mpesaHappy', 'mpesaCancel', 'mpesaDisputeSplit',
  'mpesaTimeoutRefund', 'mpesaAwaitingPayout', 'mpesaShipped', 'mpesaOpen',
];

interface PlannedOrder { id: Hex; path: Path; buyer: Address; seller: Address; amount: bigint; share: number; feeBps: number }

/**
 * Several hundred orders, each through one path, in phases (one or more blocks each):
 * create → pay → ship → dispute/confirm → (time passes) → timeouts → resolve → M-Pesa payouts.
 * The fee changes half-way, so orders carry different fee snapshots. Returns the order ids.
 */
export async function driveOrders(chain: DevChain, count: number, opts: { label?: string; perBlock?: number; onPhase?: (name: string) => void } = {}): Promise<Hex[]> {
  const label = opts.label ?? 'run';
  const perBlock = opts.perBlock ?? 400;
  const orders: PlannedOrder[] = [];
  for (let i = 0; i < count; i++) {
    const buyer = PARTIES[i % PARTIES.length]!;
    const seller = PARTIES[(i + 1 + (i % 3)) % PARTIES.length]!;
    orders.push({
      id: orderId(`${label}-${i}`, PATHS[i % PATHS.length]!.startsWith('native') ? buyer : ROLES.oracle),
      path: PATHS[i % PATHS.length]!,
      buyer,
      seller: seller === buyer ? PARTIES[(i + 2) % PARTIES.length]! : seller,
      amount: BigInt(1 + ((i * 7919) % 100_000)) * (PATHS[i % PATHS.length]!.startsWith('native') ? 10n ** 12n + BigInt(i) : 1n),
      share: [0, 1, 2_500, 3_333, 5_000, 9_999, 10_000][i % 7]!,
      feeBps: 0,
    });
  }
  const native = (o: PlannedOrder) => o.path.startsWith('native');
  const is = (...paths: Path[]) => (o: PlannedOrder) => paths.includes(o.path);
  const phase = async (name: string, calls: Call[]) => {
    opts.onPhase?.(`${name} (${calls.length} calls)`);
    await chain.mine(calls, perBlock);
  };
  const feeNow = { bps: 250 };

  // Half the orders are created before the fee changes, half after.
  const half = Math.ceil(orders.length / 2);
  for (const [k, group] of [orders.slice(0, half), orders.slice(half)].entries()) {
    if (k === 1) {
      feeNow.bps = 175;
      await phase('fee change', [{ from: ROLES.owner, fn: 'setFeeBps', args: [feeNow.bps] }]);
    }
    const createCalls: Call[] = group.map((o) => {
      o.feeBps = feeNow.bps;
      if (native(o)) {
        const payNow = !is('nativeFundLater', 'nativeCancel', 'nativeOpen')(o);
        return { from: o.buyer, fn: 'createOrder', args: [saltFor(o.id), o.seller, o.amount, 0, `bafy-meta-${o.id.slice(2, 10)}`], value: payNow ? o.amount : 0n };
      }
      return { from: ROLES.oracle, fn: 'createOffchainOrder', args: [saltFor(o.id), o.buyer, o.seller, o.amount, `bafy-meta-${o.id.slice(2, 10)}`] };
    });
    await phase('create', createCalls);
  }
  await phase('pay', [
    ...orders.filter(is('nativeFundLater')).map((o): Call => ({ from: o.buyer, fn: 'fundOrder', args: [o.id], value: o.amount })),
    ...orders.filter((o) => !native(o) && o.path !== 'mpesaCancel' && o.path !== 'mpesaOpen')
      .map((o): Call => ({ from: ROLES.oracle, fn: 'recordOffchainPayment', args: [o.id, receiptOf(`pay-${o.id}`), o.amount] })),
  ]);
  await phase('cancel', orders.filter(is('nativeCancel', 'mpesaCancel')).map((o, i): Call => ({
    from: native(o) ? (i % 2 ? o.buyer : o.seller) : ROLES.oracle, fn: 'cancelOrder', args: [o.id],
  })));
  await phase('ship', orders.filter(is('nativeHappy', 'nativeFundLater', 'nativeDisputeRefund', 'nativeConfirmTimeout', 'mpesaHappy', 'mpesaAwaitingPayout', 'mpesaShipped'))
    .map((o): Call => ({ from: o.seller, fn: 'markShipped', args: [o.id, `bafy-track-${o.id.slice(2, 10)}`] })));
  await phase('confirm and dispute', [
    ...orders.filter(is('nativeHappy', 'nativeFundLater', 'nativeConfirmUnshipped', 'mpesaHappy', 'mpesaAwaitingPayout'))
      .map((o): Call => ({ from: o.buyer, fn: 'confirmDelivery', args: [o.id] })),
    ...orders.filter(is('nativeDisputeSplit', 'nativeDisputeRefund', 'nativeDisputeOpen', 'mpesaDisputeSplit'))
      .map((o, i): Call => ({ from: i % 2 ? o.seller : o.buyer, fn: 'raiseDispute', args: [o.id, `bafy-evidence-${o.id.slice(2, 10)}`] })),
  ]);
  // A pause of the contract: every open deadline moves on by the time spent paused.
  await phase('pause', [{ from: ROLES.owner, fn: 'pause', args: [] }]);
  await chain.rpc('evm_increaseTime', [PAUSE]);
  await phase('unpause', [{ from: ROLES.owner, fn: 'unpause', args: [] }]);
  // Let the shipping and confirmation windows (and the pause) pass, then enforce them.
  await chain.rpc('evm_increaseTime', [WINDOW + PAUSE + 60]);
  await phase('timeouts', orders.filter(is('nativeShipTimeout', 'nativeConfirmTimeout', 'mpesaTimeoutRefund'))
    .map((o): Call => ({ from: ROLES.owner, fn: 'claimTimeout', args: [o.id] })));
  await phase('resolve', orders.filter(is('nativeDisputeSplit', 'nativeDisputeRefund', 'mpesaDisputeSplit'))
    .map((o): Call => ({ from: ROLES.arbiter, fn: 'resolveDispute', args: [o.id, o.path === 'nativeDisputeRefund' ? (o.share % 2 ? 10_000 : 0) : o.share] })));
  // The oracle records the M-Pesa B2C payouts and refunds that landed.
  const payouts: Call[] = [];
  for (const o of orders) {
    if (o.path === 'mpesaHappy') {
      payouts.push({ from: ROLES.oracle, fn: 'recordPayout', args: [o.id, o.seller, receiptOf(`b2c-s-${o.id}`), payoutSplit(o.amount, o.feeBps).sellerAmount] });
    } else if (o.path === 'mpesaTimeoutRefund') {
      payouts.push({ from: ROLES.oracle, fn: 'recordPayout', args: [o.id, o.buyer, receiptOf(`b2c-b-${o.id}`), o.amount] });
    } else if (o.path === 'mpesaDisputeSplit') {
      const s = payoutSplit(o.amount, o.feeBps, o.share);
      if (s.buyerAmount) payouts.push({ from: ROLES.oracle, fn: 'recordPayout', args: [o.id, o.buyer, receiptOf(`b2c-b-${o.id}`), s.buyerAmount] });
      // Leave some split sellers unpaid so "payout due" states are indexed too.
      if (s.sellerAmount && o.share % 2 === 0) payouts.push({ from: ROLES.oracle, fn: 'recordPayout', args: [o.id, o.seller, receiptOf(`b2c-s-${o.id}`), s.sellerAmount] });
    }
  }
  await phase('M-Pesa payouts', payouts);
  await phase('admin', [
    { from: ROLES.owner, fn: 'pause', args: [] },
    { from: ROLES.owner, fn: 'unpause', args: [] },
    { from: ROLES.owner, fn: 'withdrawFees', args: [] },
  ]);
  return orders.map((o) => o.id);
}

// ------------------------------------------------------------------ reading the truth

export interface ChainOrder {
  id: string;
  buyer: string;
  seller: string;
  amount: bigint;
  paymentMode: string;
  status: string;
  feeBps: number;
  buyerShareBps: number;
  createdAt: number;
  fundedAt: number;
  shippedAt: number;
  deadline: bigint;
  shippingWindow: number;
  confirmationWindow: number;
  paymentReceipt: string | null;
  sellerPayoutDue: boolean;
  buyerRefundDue: boolean;
  buyerAmount: bigint;
  sellerAmount: bigint;
  fee: bigint;
}

/** getOrder + payoutSplit for every id, at `block` (default latest), via batched eth_call. */
export async function readOrders(chain: DevChain, ids: string[], block: number | 'latest' = 'latest'): Promise<Map<string, ChainOrder>> {
  const tag = block === 'latest' ? 'latest' : toHex(block);
  const calls = ids.flatMap((id) => [
    { to: chain.deployment.address, data: encodeFunctionData({ abi: escrowAbi, functionName: 'getOrder', args: [id as Hex] }) },
    { to: chain.deployment.address, data: encodeFunctionData({ abi: escrowAbi, functionName: 'payoutSplit', args: [id as Hex] }) },
  ]);
  const out = new Map<string, ChainOrder>();
  const results: (Hex | null)[] = [];
  for (let i = 0; i < calls.length; i += 400) {
    const chunk = calls.slice(i, i + 400);
    const res = await Promise.all(chunk.map((c) => chain.rpc<Hex>('eth_call', [c, tag]).catch(() => null)));
    results.push(...res);
  }
  ids.forEach((id, k) => {
    const v = decodeFunctionResult({ abi: escrowAbi, functionName: 'getOrder', data: results[2 * k]! });
    if (v.status === 0) return; // not on this chain (yet)
    const split = decodeFunctionResult({ abi: escrowAbi, functionName: 'payoutSplit', data: results[2 * k + 1]! });
    out.set(id.toLowerCase(), {
      id: id.toLowerCase(),
      buyer: v.buyer.toLowerCase(),
      seller: v.seller.toLowerCase(),
      amount: v.amount,
      paymentMode: paymentModeName(v.mode),
      status: statusName(v.status),
      feeBps: v.feeBps,
      buyerShareBps: v.buyerShareBps,
      createdAt: Number(v.createdAt),
      fundedAt: Number(v.fundedAt),
      shippedAt: Number(v.shippedAt),
      deadline: v.deadline,
      shippingWindow: v.shippingWindow,
      confirmationWindow: v.confirmationWindow,
      paymentReceipt: /^0x0+$/.test(v.paymentReceipt) ? null : v.paymentReceipt.toLowerCase(),
      sellerPayoutDue: v.sellerPayoutDue,
      buyerRefundDue: v.buyerRefundDue,
      buyerAmount: split[0],
      sellerAmount: split[1],
      fee: split[2],
    });
  });
  return out;
}

/** Every log the contract emitted up to `toBlock`. */
export async function contractLogs(chain: DevChain, toBlock?: number): Promise<{ transactionHash: Hex; logIndex: Hex; blockNumber: Hex; topics: Hex[] }[]> {
  return chain.rpc('eth_getLogs', [{
    address: chain.deployment.address,
    fromBlock: toHex(chain.deployment.deployBlock),
    toBlock: toBlock === undefined ? 'latest' : toHex(toBlock),
  }]);
}
