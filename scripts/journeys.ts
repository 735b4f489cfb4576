/**
 * The user journeys, driven the way a dApp does it: GraphQL to the API, transactions from
 * the users' wallets, M-Pesa through the Daraja simulator's customer side. Used by
 * `npm run demo` (which prints each step) and by the end-to-end tests (which assert).
 */
import { readFileSync } from 'node:fs';
import { createPublicClient, createTestClient, createWalletClient, formatEther, http, type Address, type Hex } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { chainFor, DEV_ROLES } from '@descrow/common';
import { escrowAbi, type Deployment } from '@descrow/contracts';

export interface StackUrls { api: string; rpc: string; sim: string; deploymentFile: string }
export type Log = (line: string) => void;

const ORDER_FIELDS = `id status paymentMode amount fee sellerAmount buyerAmount paidToSeller refundedToBuyer sellerPayoutDue buyerRefundDue
  mpesaPayment { status checkoutRequestId receipt } mpesaPayouts { role status amountKes receipt } events { kind }`;

export interface OrderView {
  id: Hex; status: string; paymentMode: string; amount: string; fee: string | null; sellerAmount: string | null; buyerAmount: string | null;
  paidToSeller: string | null; refundedToBuyer: string | null; sellerPayoutDue: boolean; buyerRefundDue: boolean;
  mpesaPayment: { status: string; checkoutRequestId: string | null; receipt: string | null } | null;
  mpesaPayouts: { role: string; status: string; amountKes: number; receipt: string | null }[];
  events: { kind: string }[];
}

export class Stack {
  readonly deployment: Deployment;
  readonly pub;
  private readonly chain;
  private tokens = new Map<string, string>();

  constructor(readonly urls: StackUrls, private readonly log: Log = () => undefined) {
    this.deployment = JSON.parse(readFileSync(urls.deploymentFile, 'utf8')) as Deployment;
    this.chain = chainFor(urls.rpc, this.deployment.chainId);
    this.pub = createPublicClient({ chain: this.chain, transport: http(urls.rpc), cacheTime: 0, pollingInterval: 100 });
  }

  // ---- API ----------------------------------------------------------------------------
  async gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, as?: PrivateKeyAccount): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (as) headers.authorization = `Bearer ${await this.token(as)}`;
    const res = await fetch(`${this.urls.api}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => `${e.extensions?.code ?? ''} ${e.message}`).join('; ')}`);
    return body.data as T;
  }

  /** Wallet login: sign the API's EIP-4361 challenge. */
  async token(account: PrivateKeyAccount): Promise<string> {
    const cached = this.tokens.get(account.address);
    if (cached) return cached;
    const { requestLoginChallenge: c } = await this.gql<{ requestLoginChallenge: { message: string; nonce: string } }>(
      `mutation($a: String!) { requestLoginChallenge(address: $a) { message nonce } }`, { a: account.address });
    const signature = await account.signMessage({ message: c.message });
    const { login } = await this.gql<{ login: { token: string } }>(
      `mutation($a: String!, $s: String!, $n: String) { login(address: $a, signature: $s, nonce: $n) { token } }`, { a: account.address, s: signature, n: c.nonce });
    this.tokens.set(account.address, login.token);
    return login.token;
  }

  order(id: string, as: PrivateKeyAccount): Promise<OrderView> {
    return this.gql<{ order: OrderView }>(`query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id }, as).then((d) => d.order);
  }

  /** Wait until the API shows the order in a state `ok` accepts (the index is a few seconds behind the chain). */
  async waitForOrder(id: string, as: PrivateKeyAccount, ok: (o: OrderView) => boolean, what: string, timeoutMs = 60_000): Promise<OrderView> {
    const started = Date.now();
    for (;;) {
      const o = await this.order(id, as);
      if (ok(o)) {
        this.log(`  … ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return o;
      }
      if (Date.now() - started > timeoutMs) throw new Error(`order ${id} never reached "${what}"; last seen ${JSON.stringify(o)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // ---- chain --------------------------------------------------------------------------
  async send(from: PrivateKeyAccount, call: { to: Address; data: Hex; value?: bigint }): Promise<void> {
    const wallet = createWalletClient({ account: from, chain: this.chain, transport: http(this.urls.rpc) });
    const hash = await wallet.sendTransaction({ to: call.to, data: call.data, value: call.value ?? 0n });
    const r = await this.pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new Error(`transaction ${hash} reverted`);
  }

  async call(from: PrivateKeyAccount, functionName: 'markShipped' | 'confirmDelivery' | 'raiseDispute' | 'resolveDispute' | 'claimTimeout', args: readonly unknown[]): Promise<void> {
    const wallet = createWalletClient({ account: from, chain: this.chain, transport: http(this.urls.rpc) });
    const hash = await wallet.writeContract({ address: this.deployment.address, abi: escrowAbi, functionName, args } as never);
    const r = await this.pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new Error(`${functionName} reverted (${hash})`);
  }

  balance(a: Address): Promise<bigint> {
    return this.pub.getBalance({ address: a });
  }

  async advanceTime(seconds: number): Promise<void> {
    const test = createTestClient({ chain: this.chain, mode: 'anvil', transport: http(this.urls.rpc) });
    await test.increaseTime({ seconds });
    await test.mine({ blocks: 1 });
  }

  // ---- the simulated M-Pesa world ------------------------------------------------------------
  async sim<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.urls.sim}/__sim${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<T>;
  }

  async wallet(phone: string): Promise<number> {
    const ledger = await this.sim<{ accounts: { id: string; balance: number }[] }>('GET', '/ledger');
    return ledger.accounts.find((a) => a.id === `customer:${phone}`)?.balance ?? 0;
  }
}

export const actors = () => ({
  owner: privateKeyToAccount(DEV_ROLES.owner.privateKey),
  arbiter: privateKeyToAccount(DEV_ROLES.arbiter.privateKey),
  buyer: privateKeyToAccount(DEV_ROLES.buyer.privateKey),
  seller: privateKeyToAccount(DEV_ROLES.seller.privateKey),
});

/** An amount in the chain's smallest unit (10^-18 DOT) as DOT, e.g. `0.4875 DOT`; `decimals` cuts it to that many places. */
export const dot = (planck: bigint | string, decimals = 18) => {
  const v = BigInt(planck);
  const step = 10n ** BigInt(18 - decimals);
  return `${formatEther((v / step) * step)} DOT`;
};
/** Whole shillings, e.g. `KES 1,463`. */
export const kes = (amount: number | string | bigint) => `KES ${BigInt(amount).toLocaleString('en-US')}`;

export const SELLER_PHONE = '254722000111';
export const BUYER_PHONE = '254722000222';

/** A seller with an M-Pesa phone on their profile and one product priced in both currencies. */
export async function seedSeller(s: Stack, log: Log, priceNative = 10n ** 18n, priceKes = 2_000): Promise<{ productId: string }> {
  const { seller } = actors();
  await s.gql(`mutation($p: ProfileInput!) { updateProfile(input: $p) { address } }`, { p: { displayName: 'Wanjiku Crafts', phone: `0${SELLER_PHONE.slice(3)}` } }, seller);
  const { createProduct } = await s.gql<{ createProduct: { id: string } }>(
    `mutation($i: ProductInput!) { createProduct(input: $i) { id } }`,
    { i: { title: 'Kiondo basket', description: 'Hand-woven sisal basket', priceNative: priceNative.toString(), priceKes } }, seller);
  log(`seller ${seller.address} lists "Kiondo basket" for ${dot(priceNative)} or ${kes(priceKes)} (product ${createProduct.id})`);
  return { productId: createProduct.id };
}

async function draft(s: Stack, productId: string, mode: 'NATIVE' | 'MPESA') {
  const { buyer } = actors();
  const { createOrder } = await s.gql<{ createOrder: { orderId: Hex; amount: string; contractCall: { to: Address; data: Hex; value: string } | null } }>(
    `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId amount contractCall { to data value chainId } } }`,
    { i: { productId, paymentMode: mode, deliveryAddress: 'Moi Avenue 12, Nairobi' } }, buyer);
  return createOrder;
}

/** Buyer drafts and pays a native order from their wallet; the API shows it FUNDED. */
export async function fundedNativeOrder(s: Stack, productId: string, log: Log): Promise<{ orderId: Hex; amount: bigint }> {
  const { buyer } = actors();
  const d = await draft(s, productId, 'NATIVE');
  log(`buyer drafts native order ${d.orderId} for ${dot(d.amount)}; wallet sends createOrder with the payment`);
  await s.send(buyer, { to: d.contractCall!.to, data: d.contractCall!.data, value: BigInt(d.contractCall!.value) });
  await s.waitForOrder(d.orderId, buyer, (o) => o.status === 'FUNDED', 'indexed FUNDED');
  return { orderId: d.orderId, amount: BigInt(d.amount) };
}

/** Buyer drafts an M-Pesa order and pays on the phone; the oracle records it; the API shows it FUNDED. */
export async function fundedMpesaOrder(s: Stack, productId: string, log: Log): Promise<{ orderId: Hex; amount: number; receipt: string | null }> {
  const { buyer } = actors();
  const d = await draft(s, productId, 'MPESA');
  const { payWithMpesa } = await s.gql<{ payWithMpesa: { checkoutRequestId: string; status: string } }>(
    `mutation($id: ID!, $p: String!) { payWithMpesa(orderId: $id, phoneNumber: $p) { checkoutRequestId status } }`, { id: d.orderId, p: `0${BUYER_PHONE.slice(3)}` }, buyer);
  log(`buyer drafts M-Pesa order ${d.orderId} for ${kes(d.amount)}; STK Push ${payWithMpesa.checkoutRequestId} is on the phone`);
  // The simulated customer enters the PIN (unless the simulator already resolved it by its rules).
  const push = await s.sim<{ status: string }>('GET', `/stk/${payWithMpesa.checkoutRequestId}`);
  if (push.status === 'pending') await s.sim('POST', `/stk/${payWithMpesa.checkoutRequestId}/resolve`, { outcome: 'success' });
  log('  … the customer enters the PIN: Daraja calls the oracle back, the oracle verifies and records the payment on chain');
  const funded = await s.waitForOrder(d.orderId, buyer, (o) => o.status === 'FUNDED', 'indexed FUNDED');
  return { orderId: d.orderId, amount: Number(d.amount), receipt: funded.mpesaPayment?.receipt ?? null };
}

export async function shipAndConfirm(s: Stack, orderId: Hex, log: Log): Promise<OrderView> {
  const { buyer, seller } = actors();
  await s.call(seller, 'markShipped', [orderId, 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy']);
  log('seller marks it shipped');
  await s.call(buyer, 'confirmDelivery', [orderId]);
  log('buyer confirms delivery');
  return s.waitForOrder(orderId, buyer, (o) => o.status === 'COMPLETED' && !o.sellerPayoutDue, 'COMPLETED, seller paid');
}

export async function disputeWithSplit(s: Stack, orderId: Hex, buyerShareBps: number, log: Log): Promise<OrderView> {
  const { buyer, arbiter } = actors();
  await s.call(buyer, 'raiseDispute', [orderId, 'bafkreia2ohjc4zqigkqp2xwvrzvvkbuyc4ycqdkjiqqkvdjlnvcuyqs7ee']);
  log('buyer raises a dispute with evidence');
  await s.call(arbiter, 'resolveDispute', [orderId, buyerShareBps]);
  log(`arbiter resolves it: ${buyerShareBps / 100}% back to the buyer`);
  return s.waitForOrder(orderId, buyer, (o) => o.status === 'RESOLVED' && !o.sellerPayoutDue && !o.buyerRefundDue, 'RESOLVED, both sides paid');
}
