/**
 * `npm run bench:gas`: gas used by every public state-changing function of Escrow on a
 * real anvil node, each in its most expensive realistic path (real-length CIDs, first
 * writes to cold storage, payouts that transfer). Prints a markdown table.
 */
import { createPublicClient, createTestClient, createWalletClient, http, keccak256, parseEther, toHex, type Address, type Hex } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { chainFor, ANVIL_ACCOUNTS, startAnvil } from '@descrow/common';
import { escrowAbi, escrowBytecode, orderIdFor } from '../index';

export const GAS_LIMIT = 150_000n;
const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'; // a real-length CIDv1

export interface GasRow { fn: string; scenario: string; gas: bigint }

export async function measureGas(progress: (row: GasRow) => void = () => undefined): Promise<GasRow[]> {
  const anvil = await startAnvil();
  try {
    const [owner, oracle, arbiter, , buyer, seller, stranger] = ANVIL_ACCOUNTS.map((a) => privateKeyToAccount(a.privateKey)) as PrivateKeyAccount[];
    const chain = chainFor(anvil.url);
    const pub = createPublicClient({ chain, transport: http(anvil.url), cacheTime: 0, pollingInterval: 20 });
    const test = createTestClient({ chain, mode: 'anvil', transport: http(anvil.url) });
    const deployHash = await createWalletClient({ account: owner!, chain, transport: http(anvil.url) }).deployContract({ abi: escrowAbi, bytecode: escrowBytecode, args: [owner!.address, oracle!.address, arbiter!.address, 250] });
    const escrow = (await pub.waitForTransactionReceipt({ hash: deployHash })).contractAddress as Address;
    const rows: GasRow[] = [];
    let n = 0;
    const salt = (): Hex => keccak256(toHex(`gas-${n++}`));
    /** A salt for `creator`'s next order and the order id it gives. */
    const next = (creator: PrivateKeyAccount): [Hex, Hex] => {
      const s = salt();
      return [s, orderIdFor(creator.address, s)];
    };
    const call = async (from: PrivateKeyAccount, fn: string, args: readonly unknown[], scenario: string | null, value?: bigint) => {
      const w = createWalletClient({ account: from, chain, transport: http(anvil.url) });
      const hash = await w.writeContract({ address: escrow, abi: escrowAbi, functionName: fn, args, value } as never);
      const r = await pub.waitForTransactionReceipt({ hash });
      if (r.status !== 'success') throw new Error(`${fn} reverted`);
      if (scenario !== null) {
        const row = { fn, scenario, gas: r.gasUsed };
        rows.push(row);
        progress(row);
      }
    };
    const amount = parseEther('10');

    const [aSalt, a] = next(buyer!);
    await call(buyer!, 'createOrder', [aSalt, seller!.address, amount, 0, CID], 'native, create only');
    await call(buyer!, 'fundOrder', [a], 'native', amount);
    await call(seller!, 'markShipped', [a, CID], 'with tracking CID');
    await call(buyer!, 'confirmDelivery', [a], 'native: pays seller, accrues fee');
    const [bSalt, b] = next(buyer!);
    await call(buyer!, 'createOrder', [bSalt, seller!.address, amount, 0, CID], 'native, create + fund in one call', amount);
    await call(buyer!, 'raiseDispute', [b, CID], 'with evidence CID');
    await call(arbiter!, 'resolveDispute', [b, 3_333], 'native split: two transfers');
    const [cSalt, c] = next(buyer!);
    await call(buyer!, 'createOrder', [cSalt, seller!.address, amount, 0, CID], null, amount);
    await call(seller!, 'markShipped', [c, CID], null);
    await test.increaseTime({ seconds: 3 * 86_400 + 1 });
    await call(stranger!, 'claimTimeout', [c], 'confirmation timeout: release to seller');
    const [dSalt, d] = next(buyer!);
    await call(buyer!, 'createOrder', [dSalt, seller!.address, amount, 0, CID], null, amount);
    await test.increaseTime({ seconds: 7 * 86_400 + 1 });
    await call(stranger!, 'claimTimeout', [d], 'shipping timeout: refund buyer');
    const [eSalt, e] = next(buyer!);
    await call(buyer!, 'createOrder', [eSalt, seller!.address, amount, 0, CID], null);
    await call(buyer!, 'cancelOrder', [e], 'before funding');

    const [mSalt, m] = next(oracle!);
    await call(oracle!, 'createOffchainOrder', [mSalt, buyer!.address, seller!.address, 2_500n, CID], 'M-Pesa order');
    await call(oracle!, 'recordOffchainPayment', [m, keccak256(toHex('TKN1PAY001')), 2_500n], 'M-Pesa receipt');
    await call(seller!, 'markShipped', [m, CID], null);
    await call(buyer!, 'confirmDelivery', [m], 'M-Pesa: payout due');
    await call(oracle!, 'recordPayout', [m, seller!.address, keccak256(toHex('TKN1OUT001')), 2_438n], 'M-Pesa payout, completes order');
    await call(oracle!, 'createPaidOffchainOrder', [salt(), buyer!.address, seller!.address, 2_500n, CID, keccak256(toHex('TKN1PAY003'))], 'M-Pesa order + receipt in one call');
    const [m2Salt, m2] = next(oracle!);
    await call(oracle!, 'createOffchainOrder', [m2Salt, buyer!.address, seller!.address, 2_500n, CID], null);
    await call(oracle!, 'recordOffchainPayment', [m2, keccak256(toHex('TKN1PAY002')), 2_500n], null);
    await call(buyer!, 'raiseDispute', [m2, CID], null);
    await call(arbiter!, 'resolveDispute', [m2, 5_000], 'M-Pesa split: two payouts due');

    await call(owner!, 'withdrawFees', [], 'to treasury');
    await call(owner!, 'setFeeBps', [300], null);
    await call(owner!, 'setFeeBps', [250], 'owner');
    await call(owner!, 'setOracle', [oracle!.address], 'owner');
    await call(owner!, 'setArbiter', [arbiter!.address], 'owner');
    await call(owner!, 'setTreasury', [owner!.address], 'owner');
    await call(owner!, 'setWindows', [7 * 86_400, 3 * 86_400], 'owner');
    await call(owner!, 'pause', [], 'owner: stops the clock');
    await test.increaseTime({ seconds: 3_600 });
    await call(owner!, 'unpause', [], 'owner: restarts the clock');
    await call(owner!, 'setOwner', [owner!.address], 'owner');
    return rows;
  } finally {
    await anvil.stop();
  }
}

export function gasTable(rows: GasRow[]): string {
  const lines = ['| function | scenario | gas |', '| --- | --- | ---: |'];
  for (const r of rows) lines.push(`| \`${r.fn}\` | ${r.scenario} | ${r.gas.toLocaleString('en-US')} |`);
  return lines.join('\n');
}

if (require.main === module) {
  (async () => {
    process.stderr.write('bench:gas: measuring on a fresh anvil node…\n');
    const rows = await measureGas((r) => process.stderr.write(`  ${r.fn.padEnd(22)} ${String(r.gas).padStart(7)}  (${r.scenario})\n`));
    console.log(gasTable(rows));
    const max = rows.reduce((m, r) => (r.gas > m.gas ? r : m));
    console.log(`\nmost expensive: ${max.fn} (${max.scenario}) ${max.gas} gas; limit ${GAS_LIMIT}: ${max.gas <= GAS_LIMIT ? 'OK' : 'OVER'}`);
    if (max.gas > GAS_LIMIT) process.exit(1);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
