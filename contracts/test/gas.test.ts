/** Issue 2's budget: no public call above 150k gas, in its most expensive realistic path. */
import { GAS_LIMIT, measureGas } from '../scripts/gas';

test('every public function stays under 150k gas', async () => {
  const rows = await measureGas();
  expect(rows.length).toBeGreaterThanOrEqual(20);
  const over = rows.filter((r) => r.gas > GAS_LIMIT);
  expect(over).toEqual([]);
});
