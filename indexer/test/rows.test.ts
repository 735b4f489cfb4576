/**
 * RowWriter (src/mappings/rows.ts) writes a row's next version by changing only the keys
 * that differ on an object the store gave back. Whatever the sequence of rows, the store
 * must end up holding exactly each row as written: no key left over from an earlier
 * version or from another row that passed through the same pooled object. The real node
 * (and its sandbox) is exercised by equivalence.test.ts; this checks the diff logic over
 * many random sequences against a store that copies on set and on get, as node-core's does.
 */
import { RowWriter } from '../src/mappings/rows';

type Row = Record<string, unknown> & { id: string };

/** The store's contract as RowWriter relies on it: set copies the row, get returns a copy of the latest. */
class CopyingStore {
  readonly rows = new Map<string, Row>();
  async set(entity: string, id: string, data: Row): Promise<void> {
    this.rows.set(`${entity}:${id}`, structuredClone(data));
  }
  async get(entity: string, id: string): Promise<Row | undefined> {
    const row = this.rows.get(`${entity}:${id}`);
    return row && structuredClone(row);
  }
}

/** A deterministic pseudo-random source, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** A row with some keys present or absent and a nested object whose keys vary (as OrderEvent.args). */
function randomRow(next: () => number, id: string): Row {
  const row: Row = { id, n: Math.floor(next() * 5), big: BigInt(Math.floor(next() * 3)), flag: next() < 0.5 };
  if (next() < 0.6) row.maybe = `v${Math.floor(next() * 3)}`;
  if (next() < 0.8) {
    const args: Record<string, string> = {};
    for (const k of ['a', 'b', 'c', 'd']) if (next() < 0.5) args[k] = String(Math.floor(next() * 3));
    row.args = args;
  }
  return row;
}

/** Equal as the store would persist them: an undefined value is an absent column. */
const persisted = (row: Row | undefined) => row && JSON.parse(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));

const settle = () => new Promise((r) => setImmediate(r));

test('whatever the sequence, the store holds exactly the rows last written, through mirrors and pools alike', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const next = random(seed);
    const store = new CopyingStore();
    (globalThis as { store?: unknown }).store = store;
    const writer = new RowWriter(new Set(['Event']), new Set(['Rare']));
    const expected = new Map<string, Row>();
    for (let block = 1; block <= 30; block++) {
      writer.startBlock(block);
      // Updated rows: a few ids, each written at most once per block (as ./write does).
      const ids = new Set(Array.from({ length: 3 }, () => `o${Math.floor(next() * 6)}`));
      for (const id of ids) {
        const row = randomRow(next, id);
        void writer.write('Order', row);
        expected.set(`Order:${id}`, row);
      }
      // Inserted rows: new ids every block, several per block through the pool.
      for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) {
        const row = randomRow(next, `e${block}-${i}`);
        void writer.write('Event', row);
        expected.set(`Event:${row.id}`, row);
      }
      if (next() < 0.2) {
        const row = randomRow(next, `r${Math.floor(next() * 2)}`);
        void writer.write('Rare', row);
        expected.set(`Rare:${row.id}`, row);
      }
      await settle(); // read-backs settle between blocks, as they do in the node
    }
    for (const [key, row] of expected) expect({ seed, key, row: persisted(store.rows.get(key)) }).toEqual({ seed, key, row: persisted(row) });
  }
});

test('a mirror is used once per block at most, and rows of later blocks go through mirrors', async () => {
  const store = new CopyingStore();
  (globalThis as { store?: unknown }).store = store;
  const writer = new RowWriter(new Set(['Event']));
  const handed: unknown[] = [];
  const set = store.set.bind(store);
  store.set = async (entity, id, data) => {
    handed.push(data);
    return set(entity, id, data);
  };
  writer.startBlock(1);
  const first = { id: 'e1', n: 1 };
  void writer.write('Event', first);
  await settle();
  writer.startBlock(2);
  void writer.write('Event', { id: 'e2', n: 2 });
  void writer.write('Event', { id: 'e3', n: 3 }); // the pool's one member is taken: written as it is
  await settle();
  expect(handed[0]).toBe(first); // no mirror yet
  expect(handed[1]).not.toBe(handed[0]); // the store's copy of e1, changed into e2
  expect(handed[2]).toEqual({ id: 'e3', n: 3 });
  expect(persisted(store.rows.get('Event:e2'))).toEqual({ id: 'e2', n: 2 });
  expect(persisted(store.rows.get('Event:e1'))).toEqual({ id: 'e1', n: 1 });
});
