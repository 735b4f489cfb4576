/** The committed artifact is what the source compiles to, and the same source builds for PolkaVM. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileEscrow } from '../scripts/build';
import { escrowAbi, escrowBytecode } from '../index';

const source = readFileSync(join(__dirname, '../src/Escrow.sol'), 'utf8');

test('artifacts/Escrow.json and the typed ABI match a fresh solc compile of src/Escrow.sol', () => {
  const fresh = compileEscrow(source);
  const artifact = JSON.parse(readFileSync(join(__dirname, '../artifacts/Escrow.json'), 'utf8'));
  expect(artifact.abi).toEqual(fresh.abi);
  expect(artifact.bytecode).toBe(fresh.bytecode);
  expect(artifact.compiler.version).toMatch(/^0\.8\.30/);
  expect(escrowAbi).toEqual(fresh.abi);
  expect(escrowBytecode).toBe(fresh.bytecode);
  // Under the EIP-170 limit, so it deploys on any EVM chain of the Polkadot family.
  expect((fresh.deployedBytecode.length - 2) / 2).toBeLessThan(24_576);
});

test('every order event indexes the orderId (the indexer and API filter on it)', () => {
  const orderEvents = escrowAbi.filter((e) => e.type === 'event' && e.inputs[0]?.name === 'orderId');
  expect(orderEvents.length).toBeGreaterThanOrEqual(12);
  for (const e of orderEvents) expect(e.type === 'event' && e.inputs[0]!.indexed).toBe(true);
});

test('the same source compiles for PolkaVM with resolc (Polkadot Hub\'s other backend)', async () => {
  const { compile } = await import('@parity/resolc');
  const out = await compile({ 'Escrow.sol': { content: source } });
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  expect(errors).toEqual([]);
  const blob = out.contracts['Escrow.sol']!['Escrow']!.evm.bytecode.object;
  expect(blob.startsWith('50564d00')).toBe(true); // "PVM\0": a PolkaVM program, not EVM bytecode
  expect(out.contracts['Escrow.sol']!['Escrow']!.abi.map((f) => f.name).sort()).toEqual(
    escrowAbi.map((f) => ('name' in f ? f.name : undefined)).filter(Boolean).sort(),
  );
}, 180_000);
