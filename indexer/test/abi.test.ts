/**
 * The handlers' own log decoder against viem's encoder, for every event of the
 * Escrow ABI (the node is not given the ABI; see project.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { encodeAbiParameters, encodeEventTopics, toEventSelector, type AbiEvent, type Hex } from 'viem';
import { escrowAbi } from '@descrow/contracts';
import { decodeEvent, eventInputs } from '../src/mappings/abi';
import { argList } from '../src/mappings/decode';
import { contractEvents, decodeLog, eventName, orderEvents } from '../src/mappings/events';

const events = escrowAbi.filter((i) => i.type === 'event');

function sample(type: string, k: number): unknown {
  if (type === 'address') return `0x${(k + 1).toString(16).padStart(2, '0').repeat(20)}`;
  if (type === 'bytes32') return `0x${'ab'.repeat(31)}${k.toString(16).padStart(2, '0')}`;
  if (type === 'bool') return k % 2 === 0;
  if (type === 'string') return k % 2 ? '' : `bafy-cid-${k} ünïcødé ✓ ${'x'.repeat(40 * k)}`;
  if (type.startsWith('uint')) return (2n ** BigInt(Number(type.slice(4))) - 1n) / BigInt(k + 1);
  throw new Error(type);
}

test.each(events.map((e) => [e.name, e] as const))('%s decodes exactly what viem encodes', (_name, event) => {
  const values = event.inputs.map((i, k) => sample(i.type, k));
  const args = Object.fromEntries(event.inputs.map((i, k) => [i.name, values[k]]));
  const topics = encodeEventTopics({ abi: [event], eventName: event.name, args } as never) as Hex[];
  const nonIndexed = event.inputs.filter((i) => !i.indexed);
  const data = encodeAbiParameters(nonIndexed, nonIndexed.map((i) => args[i.name]) as never);
  const decoded = decodeEvent(event.name, topics, data);
  const expected = Object.fromEntries(event.inputs.map((i, k) => {
    const v = values[k];
    if (i.type.startsWith('uint')) return [i.name, BigInt(v as bigint)];
    return [i.name, typeof v === 'string' && v.startsWith('0x') ? v.toLowerCase() : v];
  }));
  expect(decoded).toEqual(expected);
  expect(argList(event.name, decoded)).toEqual(Object.fromEntries(event.inputs.map((i) => [i.name, String(expected[i.name])])));
});

test('a truncated log is an error, not garbage', () => {
  const topics = ['0x00', `0x${'11'.repeat(32)}`] as string[];
  expect(() => decodeEvent('OrderDelivered', topics, '0x')).toThrow(/too short/);
  expect(() => decodeEvent('NoSuchEvent', topics, '0x')).toThrow(/no event/);
  expect(eventInputs('OrderCreated').map((i) => i.name)).toEqual(['orderId', 'buyer', 'seller', 'amount', 'mode', 'feeBps', 'metadataCid', 'shippingWindow', 'confirmationWindow']);
});

test('OrderEvent.args (EventArgs in schema.graphql) has a field for every argument of every event', () => {
  const schema = readFileSync(resolve(__dirname, '../../schema.graphql'), 'utf8');
  const body = schema.match(/type EventArgs @jsonField \{([^}]*)\}/)?.[1] ?? '';
  const fields = new Set([...body.matchAll(/^\s*(\w+): String$/gm)].map((m) => m[1]));
  const names = new Set(events.flatMap((e) => e.inputs.map((i) => i.name)));
  expect([...names].filter((n) => !fields.has(n))).toEqual([]);
});

test('every event of the ABI is recognised by its topic, and every order event has a decoder for the state machine', () => {
  for (const e of events) {
    const topic0 = toEventSelector(e as AbiEvent);
    expect(eventName(topic0)).toBe(e.name);
    expect(eventName(topic0.toUpperCase().replace('0X', '0x'))).toBe(e.name);
    const known = e.name in orderEvents || (contractEvents as readonly string[]).includes(e.name);
    expect(known ? e.name : `${e.name} has no decoder`).toBe(e.name);
  }
  expect(eventName(`0x${'00'.repeat(32)}`)).toBeUndefined();
  expect(Object.keys(orderEvents).length + contractEvents.length).toBe(events.length);
});

test('decodeLog turns a raw OrderCreated log into the state machine input and OrderEvent.args', () => {
  const event = events.find((e) => e.name === 'OrderCreated')!;
  const args = {
    orderId: `0x${'ab'.repeat(32)}`, buyer: `0x${'11'.repeat(20)}`, seller: `0x${'22'.repeat(20)}`,
    amount: 1234n, mode: 1, feeBps: 250, metadataCid: 'bafy-meta', shippingWindow: 604_800, confirmationWindow: 259_200,
  };
  const topics = encodeEventTopics({ abi: [event], eventName: 'OrderCreated', args } as never) as Hex[];
  const nonIndexed = event.inputs.filter((i) => !i.indexed);
  const data = encodeAbiParameters(nonIndexed, nonIndexed.map((i) => (args as Record<string, unknown>)[i.name]) as never);
  const decoded = decodeLog(topics, data);
  expect(decoded?.kind).toBe('OrderCreated');
  expect(decoded?.order).toEqual({ kind: 'OrderCreated', ...args });
  expect(decoded?.args).toMatchObject({ amount: '1234', mode: '1', feeBps: '250', metadataCid: 'bafy-meta', shippingWindow: '604800', confirmationWindow: '259200' });
  // A topic the ABI does not have is not guessed at: the writer keeps it as an anomaly.
  expect(decodeLog([`0x${'00'.repeat(32)}`], '0x')).toBeUndefined();
});

test('project.ts gives the node one log handler per event of the ABI, filtered by topic, and the bundle exports it', async () => {
  const handlers = await import('../src/index');
  const { logHandlers } = await import('../../project');
  const { escrowAbi } = await import('@descrow/contracts');
  const events = escrowAbi.filter((i) => i.type === 'event');
  const list = logHandlers();
  expect(list).toHaveLength(events.length);
  // Each topic filter is an event signature the ABI has, so the node (and a dictionary) can match it.
  for (const e of events) {
    expect(list).toContainEqual({ kind: 'ethereum/LogHandler', handler: 'handleLog', filter: { topics: [`${e.name}(${e.inputs.map((i) => i.type).join(',')})`] } });
  }
  expect(typeof handlers.handleLog).toBe('function');
});
