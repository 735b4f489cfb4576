import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, startAnvil } from '../src/anvil';

test('every dev account key derives its address (a typo here would strand a role without funds)', () => {
  for (const a of ANVIL_ACCOUNTS) expect(privateKeyToAccount(a.privateKey).address).toBe(a.address);
});

test('startAnvil brings up a real node that answers JSON-RPC and stops cleanly', async () => {
  const anvil = await startAnvil();
  const res = await fetch(anvil.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
  expect(((await res.json()) as { result: string }).result).toBe('0x7a69');
  await anvil.stop();
  expect(anvil.process.exitCode !== null || anvil.process.signalCode !== null).toBe(true);
});
