/**
 * The dependency patches in patches/ (applied by patch-package on install) change how the
 * node does its work, never what it produces. These tests pin the parts whose mistakes the
 * end-to-end suite could miss: a remembered checksum must stay exactly ethers' (and a bad
 * one must keep failing), and a cached record must stay a copy, never an alias.
 */
import { randomBytes } from 'node:crypto';
import { getAddress as viemGetAddress } from 'viem';
import { getAddress } from '@ethersproject/address';
import { CachedModel } from '@subql/node-core/dist/indexer/storeModelProvider/model/cacheModel';
import { EntityClass } from '@subql/node-core/dist/indexer/store/entity';

describe('patched ethers getAddress (remembers checksums)', () => {
  it('gives the checksummed address, the first time and every time after', () => {
    for (let i = 0; i < 200; i++) {
      const lower = `0x${randomBytes(20).toString('hex')}`;
      const expected = viemGetAddress(lower);
      expect(getAddress(lower)).toBe(expected);
      expect(getAddress(lower)).toBe(expected);
      expect(getAddress(expected)).toBe(expected);
      expect(getAddress(lower.slice(2))).toBe(expected);
    }
  });

  it('rejects a wrong checksum and a non-string on every call, not only the first', () => {
    const good = viemGetAddress(`0x${randomBytes(20).toString('hex')}`);
    const bad = good.slice(0, 2) + [...good.slice(2)].map((c) => (/[a-f]/.test(c) ? c.toUpperCase() : /[A-F]/.test(c) ? c.toLowerCase() : c)).join('');
    for (let i = 0; i < 3; i++) {
      expect(() => getAddress(bad)).toThrow(/bad address checksum/);
      expect(() => getAddress(42 as unknown as string)).toThrow(/invalid address/);
      expect(() => getAddress('0x1234')).toThrow(/invalid address/);
    }
  });
});

describe('patched node-core store cache (copies records without lodash)', () => {
  const model = () => new CachedModel({ associations: {} } as never, 'height', {} as never, (() => { let i = 0; return () => i++; })());

  it('keeps what was set, whatever the caller does to its object afterwards', async () => {
    const cache = model();
    const args = { orderId: '0xab', amount: '1000', nested: { list: [1, 2, { deep: true }] } };
    const row = { id: 'e1', kind: 'OrderCreated', blockNumber: 7, amount: 10n ** 30n, when: new Date(0), args, anomalyReason: undefined as string | undefined };
    await cache.set('e1', row, 7);
    row.kind = 'changed';
    row.amount = 1n;
    args.orderId = '0xcd';
    args.nested.list.push(4);
    (args.nested.list[2] as { deep: boolean }).deep = false;
    row.when.setUTCFullYear(2000);

    const stored = (await cache.get('e1')) as typeof row;
    expect(stored).toEqual({ id: 'e1', kind: 'OrderCreated', blockNumber: 7, amount: 10n ** 30n, when: new Date(0), args: { orderId: '0xab', amount: '1000', nested: { list: [1, 2, { deep: true }] } }, anomalyReason: undefined });
    expect('anomalyReason' in stored).toBe(true);
  });

  it('keeps an entity object an entity of the same class, holding its own copy of the values', async () => {
    const cache = model();
    const entity = EntityClass.create('Order', { id: 'o1', status: 'FUNDED', args: { a: '1' } }, {} as never)!;
    await cache.set('o1', entity, 3);
    (entity as unknown as { status: string }).status = 'SHIPPED';
    const stored = (await cache.get('o1')) as unknown as { status: string; args: { a: string } };
    expect(stored).toBeInstanceOf(EntityClass);
    expect(stored.status).toBe('FUNDED');
    expect(stored.args).toEqual({ a: '1' });
  });
});
