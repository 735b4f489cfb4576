import { chainFor } from '@descrow/common';
import { readFileSync } from 'node:fs';
import { createPublicClient, createWalletClient, http, type Address, type Hex, type PublicClient, type WalletClient } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { escrowAbi, type Deployment } from '@descrow/contracts';

export interface OrderOnChain {
  buyer: Address; seller: Address; amount: bigint; mode: number; status: number; feeBps: number; buyerShareBps: number;
  paymentReceipt: Hex; sellerPayoutDue: boolean; buyerRefundDue: boolean;
}

/** The oracle's view of the escrow contract: reads (optionally at a block) and its signing account. */
export class EscrowChain {
  readonly pub: PublicClient;
  readonly wallet: WalletClient;
  readonly account: PrivateKeyAccount;

  constructor(readonly rpcUrl: string, readonly address: Address, privateKey: Hex, readonly chainId: number) {
    const chain = chainFor(rpcUrl, chainId);
    const transport = http(rpcUrl, { timeout: 10_000, retryCount: 0 });
    this.pub = createPublicClient({ chain, transport, cacheTime: 0 }) as PublicClient;
    this.account = privateKeyToAccount(privateKey);
    this.wallet = createWalletClient({ account: this.account, chain, transport });
  }

  static addressFrom(explicit: string | undefined, deploymentFile: string): Address {
    if (explicit) return explicit as Address;
    const d = JSON.parse(readFileSync(deploymentFile, 'utf8')) as Deployment;
    return d.address;
  }

  async getOrder(orderId: Hex, blockNumber?: bigint): Promise<OrderOnChain> {
    return (await this.pub.readContract({ address: this.address, abi: escrowAbi, functionName: 'getOrder', args: [orderId], blockNumber })) as OrderOnChain;
  }

  async receiptOrder(receiptHash: Hex): Promise<Hex> {
    return this.pub.readContract({ address: this.address, abi: escrowAbi, functionName: 'receiptOrder', args: [receiptHash] });
  }

  /** The block whose state is final enough to pay out against: `finalized`, or head − depth. */
  async confirmedBlock(depth: number): Promise<bigint> {
    if (depth > 0) {
      const head = await this.pub.getBlockNumber({ cacheTime: 0 });
      return head > BigInt(depth) ? head - BigInt(depth) : 0n;
    }
    const b = await this.pub.getBlock({ blockTag: 'finalized' });
    return b.number ?? 0n;
  }
}
