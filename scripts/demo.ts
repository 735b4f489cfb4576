/**
 * `npm run demo`: against a running stack (`npm start` in another terminal), seed a
 * seller and a product, then run both payment journeys, printing each step.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { env, loadConfigOrExit } from '@descrow/common';
import { payoutSplit } from '@descrow/contracts';
import { actors, dot, fundedMpesaOrder, fundedNativeOrder, kes, seedSeller, SELLER_PHONE, shipAndConfirm, Stack } from './journeys';

const config = loadConfigOrExit({
  API_PORT: env.port(4000),
  DARAJA_SIM_PORT: env.port(4200),
  RPC_URL: z.string().url().default('http://127.0.0.1:8545'),
  DEPLOYMENT_FILE: z.string().default('sandbox/chain/deployments/local.json'),
});

const say = (l: string) => process.stdout.write(`[demo] ${l}\n`);

async function main() {
  const s = new Stack(
    { api: `http://127.0.0.1:${config.API_PORT}`, rpc: config.RPC_URL, sim: `http://127.0.0.1:${config.DARAJA_SIM_PORT}`, deploymentFile: resolve(__dirname, '..', config.DEPLOYMENT_FILE) },
    say,
  );
  const health = await fetch(`http://127.0.0.1:${config.API_PORT}/health`).catch(() => null);
  if (!health) throw new Error(`no API on port ${config.API_PORT}: run \`npm start\` first`);
  const { seller } = actors();
  say(`escrow ${s.deployment.address} on chain ${s.deployment.chainId}; signing in with the dev wallets`);
  const { productId } = await seedSeller(s, say, 5n * 10n ** 17n, 1_500);

  say('— journey 1: pay in DOT —');
  const native = await fundedNativeOrder(s, productId, say);
  const before = await s.balance(seller.address);
  const n = await shipAndConfirm(s, native.orderId, say);
  say(`done: ${n.status}; fee ${dot(n.fee ?? 0n)}; the seller's wallet grew by ${dot((await s.balance(seller.address)) - before, 6)} (paid ${dot(n.paidToSeller ?? 0n)}, less the gas of marking it shipped)`);

  say('— journey 2: pay with M-Pesa —');
  const mpesa = await fundedMpesaOrder(s, productId, say);
  say(`paid: M-Pesa receipt ${mpesa.receipt ?? '(none yet)'} for ${kes(mpesa.amount)} from the buyer's phone`);
  const m = await shipAndConfirm(s, mpesa.orderId, say);
  const { sellerAmount, fee } = payoutSplit(BigInt(mpesa.amount), s.deployment.feeBps);
  const payout = m.mpesaPayouts.find((p) => p.role === 'seller');
  say(`done: ${m.status}; B2C payout ${payout?.receipt ?? '?'} of ${kes(payout?.amountKes ?? 0)} to ${SELLER_PHONE} (${kes(mpesa.amount)} − fee ${kes(fee)} = ${kes(sellerAmount)}); the phone now holds ${kes(await s.wallet(SELLER_PHONE))}`);
  say(`history of ${mpesa.orderId}: ${m.events.map((e) => e.kind).join(' → ')}`);
  say(`see it in the console: http://localhost:${config.API_PORT}/console/order/${mpesa.orderId} (and the DOT order: /console/order/${native.orderId})`);
}

main().catch((err: Error) => {
  process.stderr.write(`[demo] ${err.message}\n`);
  process.exit(1);
});
