/**
 * Hands rows to the node's store as cheaply as the sandbox allows.
 *
 * The handlers run in the node's vm2 sandbox. A row built here reaches `store.set` as a vm2
 * proxy, and the node deep-copies it through that proxy: every key costs a few trapped
 * property reads and every object a dozen more (a 35-key Order row ~110 µs). An object the
 * node itself made — what `store.get` returns — goes back to the node unwrapped, and the node
 * copies it natively; from here we pay only for the keys we change on it (<1 µs each).
 *
 * So a written row is read back once and kept as a *mirror*: the node's own object, with
 * a copy of what it holds (`shadow`). The next version of that row sets only the keys that
 * differ from the shadow on the mirror and hands the mirror to `store.set`, which copies it
 * at once (@subql/node-core 19, pinned; the same fact lets ./write skip awaiting writes).
 * - Entities whose rows change (orders, accounts, rollups, disputes) keep one mirror per row.
 * - Entities only ever inserted (blocks, transactions, events, payouts) reuse a pool of
 *   mirrors per entity: a new row is the diff against whatever row that mirror held.
 * - A mirror is changed at most once per block, so nothing the node still holds from an
 *   earlier `store.set` call of the same block is changed under it.
 * - A nested plain object (OrderEvent.args) is diffed into the mirror's own nested object.
 * A row with no mirror yet is written as it is, then read back for next time. Either way
 * the node stores the same values; only the cost differs.
 */

type Value = unknown;
type Row = Record<string, Value> & { id: string };
/** What store.get gives back: the node's object, seen through the sandbox bridge. */
type NodeObject = Record<string, Value>;

interface Mirror {
  node: NodeObject;
  /** What `node` holds now, as written from here. */
  shadow: Row;
  /** The node's own nested objects of `node`, by key, read once (null: replaced from here). */
  nested?: Map<string, NodeObject | null>;
  /** The block that last changed it. */
  block: number;
}

/** Per-row mirrors kept at most (least recently used dropped first). */
const ROW_MIRRORS = 20_000;
/** Pooled mirrors per inserted entity at most (a block with more rows writes the rest as they are). */
const POOL_SIZE = 256;

const isNested = (v: Value): v is Record<string, Value> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class RowWriter {
  private readonly rows = new Map<string, Mirror>();
  private readonly pools = new Map<string, Mirror[]>();
  /** Rows being read back, by entity and id, with the mirror key they are for (none: the pool). */
  private readonly pending = new Map<string, Map<string, { row: Row; key: string | undefined }>>();
  private readonly settlers = new Map<string, (node: unknown) => void>();
  /** Next pool member to hand out in this block, per entity. */
  private readonly cursors = new Map<string, number>();
  private block = -1;

  /**
   * @param pooled entities whose rows are only ever inserted
   * @param asIs entities written too rarely per row for a read-back to pay (e.g. twice)
   */
  constructor(
    private readonly pooled: ReadonlySet<string>,
    private readonly asIs: ReadonlySet<string> = new Set(),
  ) {}

  /** Start a block: every mirror may be changed once more. */
  startBlock(height: number): void {
    this.block = height;
    this.cursors.clear();
  }

  /** Hand one row to the store, not awaited (see ./write); returns the store's promise. */
  write(entity: string, row: Row): Promise<void> {
    if (this.asIs.has(entity)) return store.set(entity, row.id, row as never);
    const key = this.pooled.has(entity) ? undefined : `${entity}:${row.id}`;
    const mirror = key === undefined ? this.fromPool(entity) : this.rows.get(key);
    if (mirror && mirror.block !== this.block) {
      this.apply(mirror, row);
      if (key !== undefined) {
        this.rows.delete(key); // re-insert: most recently used last
        this.rows.set(key, mirror);
      }
      return store.set(entity, row.id, mirror.node as never);
    }
    const written = store.set(entity, row.id, row as never);
    this.readBack(entity, row, key);
    return written;
  }

  /** A pool member not yet changed in this block, if any. */
  private fromPool(entity: string): Mirror | undefined {
    const pool = this.pools.get(entity);
    if (!pool) return undefined;
    let i = this.cursors.get(entity) ?? 0;
    while (i < pool.length) {
      const m = pool[i++]!;
      if (m.block !== this.block) {
        this.cursors.set(entity, i);
        return m;
      }
    }
    this.cursors.set(entity, i);
    return undefined;
  }

  private apply(m: Mirror, row: Row): void {
    const { node, shadow } = m;
    for (const k in row) {
      const v = row[k];
      const was = shadow[k];
      if (v === was) continue;
      if (isNested(v) && isNested(was)) {
        const inner = this.nestedOf(m, k);
        if (inner) {
          for (const j in v) if (v[j] !== was[j]) inner[j] = v[j];
          for (const j in was) if (!(j in v)) inner[j] = undefined;
          continue;
        }
      }
      node[k] = v;
      if (isNested(v)) (m.nested ??= new Map()).set(k, null); // now a sandbox object: never diff into it
    }
    for (const k in shadow) if (!(k in row)) node[k] = undefined;
    m.shadow = row;
    m.block = this.block;
  }

  /** The node's own object under `key` of the mirror (null once one from here replaced it). */
  private nestedOf(m: Mirror, key: string): NodeObject | null {
    const known = m.nested?.get(key);
    if (known !== undefined) return known;
    const inner = m.node[key];
    const own = isNested(inner) ? (inner as NodeObject) : null;
    (m.nested ??= new Map()).set(key, own);
    return own;
  }

  /** Read a row just written back from the store, to write its next version through it. */
  private readBack(entity: string, row: Row, key: string | undefined): void {
    let waiting = this.pending.get(entity);
    if (!waiting) this.pending.set(entity, (waiting = new Map()));
    if (waiting.has(row.id)) return;
    if (key === undefined && (this.pools.get(entity)?.length ?? 0) + waiting.size >= POOL_SIZE) return;
    waiting.set(row.id, { row, key });
    // One callback per entity, made once: a new function handed to the node per read-back
    // would be wrapped by the bridge each time.
    let settle = this.settlers.get(entity);
    if (!settle) this.settlers.set(entity, (settle = (node: unknown) => this.settle(entity, node)));
    (store.get(entity, row.id) as Promise<unknown>).then(settle, this.dropRejected);
  }

  /** A read-back that failed is only a missed shortcut: the row was written. */
  private readonly dropRejected = (): void => undefined;

  private settle(entity: string, node: unknown): void {
    if (!node) return;
    const obj = node as NodeObject;
    const id = obj.id as string;
    const waiting = this.pending.get(entity);
    const read = waiting?.get(id);
    if (!read) return;
    waiting!.delete(id);
    // Only the store's copy of what was just set qualifies (a row read from Postgres carries
    // the store's own columns, which must not be written back).
    if ('_id' in obj) return;
    // The store copied `row` when it was set and nothing wrote that id since (one write per
    // row per block; read-backs settle before the next block), so the object holds `row`.
    const mirror: Mirror = { node: obj, shadow: read.row, block: this.block };
    if (read.key === undefined) {
      const pool = this.pools.get(entity) ?? [];
      pool.push(mirror);
      this.pools.set(entity, pool);
    } else if (!this.rows.has(read.key)) {
      this.rows.set(read.key, mirror);
      if (this.rows.size > ROW_MIRRORS) this.rows.delete(this.rows.keys().next().value!);
    }
  }
}
