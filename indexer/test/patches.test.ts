/**
 * The dependency patches in patches/ (applied by patch-package on install) change how the
 * node does its work, never what it produces. These tests pin the parts whose mistakes the
 * end-to-end suite could miss: a remembered checksum must stay exactly ethers' (and a bad
 * one must keep failing), a cached record must stay a copy, never an alias, and the sandbox
 * must still call the right handler, fail the same way and time out the same way, and the
 * node must keep decoding logs with a data source's ABI without reading its file each time.
 * (That a rewind gives the mappings a new sandbox is proven end to end by reorg.test.ts,
 * which fails without it: the rollups keep the orphaned orders.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAbiParameters, encodeEventTopics, getAddress as viemGetAddress, type Hex } from 'viem';
import { getAddress } from '@ethersproject/address';
import { CachedModel } from '@subql/node-core/dist/indexer/storeModelProvider/model/cacheModel';
import { EntityClass } from '@subql/node-core/dist/indexer/store/entity';
import { initLogger } from '@subql/node-core/dist/logger';
import { timeout } from '@subql/node-core/dist/utils/promise';

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

describe('patched node-core sandbox (handler looked up once) and timeout (Error built when it fires)', () => {
  // sandbox.js logs through node-core's logger, which must exist before the module loads.
  initLogger(undefined, 'json', 'error');
  const { IndexerSandbox } = require('@subql/node-core/dist/indexer/sandbox') as typeof import('@subql/node-core/dist/indexer/sandbox');
  const root = mkdtempSync(join(tmpdir(), 'sandbox-'));
  writeFileSync(
    join(root, 'index.js'),
    `let calls = 0;
     exports.count = async (n, box) => { calls += 1; box.seen = [n, calls]; };
     exports.fails = async () => { throw new Error('handler broke'); };
     exports.hangs = () => new Promise(() => {});`,
  );
  const sandbox = new IndexerSandbox({ root, entry: './index.js', chainId: '31337' }, { unsafe: false, subquery: root, timeout: 1, logLevel: 'error' } as never);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('calls the named handler with its arguments, in one module that keeps its state across calls', async () => {
    const box: { seen?: unknown[] } = {};
    for (let i = 0; i < 3; i++) await sandbox.securedExec('count', [7, box]);
    expect(box.seen).toEqual([7, 3]);
  });

  it('rejects a missing handler, naming the ones there are, and a failing one, naming it', async () => {
    await expect(sandbox.securedExec('missing', [])).rejects.toThrow('Handler function missing is not found, available functions:["count","fails","hangs"]');
    await expect(sandbox.securedExec('fails', [])).rejects.toMatchObject({ message: 'handler broke', handler: 'fails' });
  });

  it('gives up on a handler that never settles after --timeout, with the same message', async () => {
    const started = Date.now();
    await expect(sandbox.securedExec('hangs', [])).rejects.toThrow('Sandbox execution timeout in 1 seconds. Please increase --timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('timeout() passes a result or an error through and rejects with its message when the time is up', async () => {
    await expect(timeout(Promise.resolve(42), 1, 'slow')).resolves.toBe(42);
    await expect(timeout(Promise.reject(new Error('own error')), 1, 'slow')).rejects.toThrow('own error');
    await expect(timeout(new Promise(() => {}), 0.05, 'slow thing')).rejects.toThrow(new Error('slow thing'));
  });
});

describe('patched node-core SandboxService (a new sandbox after a rewind)', () => {
  const { SandboxService } = require('@subql/node-core/dist/indexer/sandbox.service') as typeof import('@subql/node-core/dist/indexer/sandbox.service');
  const { EVENT_LISTENER_METADATA } = require('@nestjs/event-emitter/dist/constants') as { EVENT_LISTENER_METADATA: string };
  const { IndexerEvent } = require('@subql/node-core/dist/events') as typeof import('@subql/node-core/dist/events');
  type WithCache = { processorCache: Record<string, unknown>; onRewind(): void };

  it('listens for the rewind the node announces after every successful one', () => {
    const proto = SandboxService.prototype as unknown as WithCache;
    const listeners = Reflect.getMetadata(EVENT_LISTENER_METADATA, proto.onRewind) as { event: string }[];
    expect(listeners.map((l) => l.event)).toEqual([IndexerEvent.RewindSuccess]);
  });

  it('forgets every sandbox it made, so the next block loads the mappings afresh', () => {
    const service = Object.create(SandboxService.prototype) as WithCache;
    service.processorCache = { 'dist/index.js': {} };
    service.onRewind();
    expect(service.processorCache).toEqual({});
  });
});

describe('patched node-ethereum parseLog (reads a data source ABI file only to build its interface)', () => {
  it('decodes every log with the interface built once, even when the file is gone afterwards', async () => {
    initLogger(undefined, 'json', 'error');
    const { EthereumApi } = await import('@subql/node-ethereum/dist/ethereum/api.ethereum');
    const { escrowAbi } = await import('@descrow/contracts');
    const dir = mkdtempSync(join(tmpdir(), 'abi-'));
    const file = join(dir, 'Escrow.json');
    writeFileSync(file, JSON.stringify(escrowAbi));
    const api = Object.assign(Object.create(EthereumApi.prototype), { contractInterfaces: {} }) as InstanceType<typeof EthereumApi>;
    const ds = { options: { abi: 'Escrow' }, assets: new Map([['Escrow', { file }]]) } as never;
    const event = escrowAbi.find((i) => i.type === 'event' && i.name === 'FeeChanged')!;
    const log = (fee: bigint) => ({
      topics: encodeEventTopics({ abi: [event], eventName: 'FeeChanged' } as never) as Hex[],
      data: encodeAbiParameters((event as unknown as { inputs: { type: string; name: string }[] }).inputs as never, [fee - 1n, fee] as never),
    });
    const first = (await api.parseLog(log(250n) as never, ds)) as { args?: unknown[] };
    expect(BigInt(String(first.args![1]))).toBe(250n);
    // The file is read for the first log only: with it gone, later logs still decode.
    rmSync(dir, { recursive: true, force: true });
    for (const fee of [300n, 400n]) {
      const later = (await api.parseLog(log(fee) as never, ds)) as { args?: unknown[] };
      expect(later.args).toBeDefined();
      expect(BigInt(String((later.args as unknown[])[1]))).toBe(fee);
    }
  });
});
