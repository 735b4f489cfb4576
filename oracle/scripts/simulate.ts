/**
 * `npm run bench:simulation`: the seeded simulation of the money paths at size
 * (oracle/test/simulation/simulation.ts). SIM_ORDERS (default 1000) orders per run, one run
 * per seed in SIM_SEEDS (comma-separated; default one random seed). Prints each run's
 * report and exits non-zero if any invariant broke; a failing seed replays with
 * `SIM_SEEDS=<seed>`. Uses DATABASE_URL / REDIS_URL, or starts Postgres (and Redis when
 * installed) as the tests do.
 */
import { resolve } from 'node:path';
import { runSimulation } from '../test/simulation/simulation';

const ROOT = resolve(__dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const setup = require(resolve(ROOT, 'common/src/testing/globalSetup.js')) as () => Promise<void>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const teardown = require(resolve(ROOT, 'common/src/testing/globalTeardown.js')) as () => Promise<void>;

async function main() {
  const orders = Number(process.env.SIM_ORDERS ?? 1_000);
  const seeds = (process.env.SIM_SEEDS ?? String(Math.floor(Math.random() * 2 ** 31))).split(',').map((s) => Number(s.trim()));
  process.env.TZ = 'UTC';
  await setup();
  let failed = false;
  try {
    for (const seed of seeds) {
      process.stderr.write(`bench:simulation: seed=${seed} orders=${orders}\n`);
      const r = await runSimulation({ seed, orders, log: (l) => process.stderr.write(`  ${l}\n`) });
      const faults = Object.entries(r.faults).filter(([k]) => !k.includes(':')).map(([k, v]) => `${k} ${v}`).join(', ');
      const people = Object.entries(r.faults).filter(([k]) => /^(admin|paybill|people|dispute):/.test(k)).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(
        `seed ${r.seed}: ${r.orders} orders (${r.paidOrders} paid, ${r.unpaidOrders} not), ${r.seconds} s, ${(r.orders / r.seconds).toFixed(1)} orders/s; ` +
        `collected ${r.collectedKes} KES, paid out ${r.paidOutKes} KES by M-Pesa + ${r.settledKes} KES settled by hand; ${r.kills} oracle kills; chaos: ${faults}; ` +
        `people: ${people}; refund cases ${r.refundCases} ${JSON.stringify(r.refundCasesByKind)}; overpaid payouts ${r.overpaidPayouts}; settled payouts ${r.settledPayouts}; ` +
        `orders left for a person ${r.leftForPeople}; last to finish ${JSON.stringify(r.lastOrders)}; ` +
        `violations: ${r.violations.length ? r.violations.join(' | ') : 'none'}\n`,
      );
      process.stdout.write(`  ${JSON.stringify(r.faults)}\n`);
      failed ||= r.violations.length > 0;
    }
  } finally {
    await teardown();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`bench:simulation: ${(err as Error).stack}\n`);
  process.exit(1);
});
