/**
 * The node-core patch that flushes historical rows as one array parameter per column
 * (patches/, node-core's model/unnestInsert.js) must write exactly the rows Sequelize's
 * bulkCreate writes — the index is only as right as this. Both paths get the same records,
 * built with node-core's own column options (its BigInt and JSON setters, its enum type, its
 * __id and __block_range columns), into two identical tables of real Postgres, and the
 * tables must hold the same rows. Values that only the literal form handles must make the
 * fast path step aside without writing anything.
 */
import { randomBytes } from 'node:crypto';
import { Sequelize, type ModelStatic, type Model } from '@subql/x-sequelize';
import { enumNameToHash, getColumnOption } from '@subql/node-core/dist/utils/graphql';
import { initLogger } from '@subql/node-core/dist/logger';
import { planUnnestInsert, unnestInsert } from '@subql/node-core/dist/indexer/storeModelProvider/model/unnestInsert';

// sync-helper pulls in node-core modules that log on load: the logger comes first.
initLogger(undefined, 'json', 'error');
const { addIdAndBlockRangeAttributes } = require('@subql/node-core/dist/db/sync-helper') as typeof import('@subql/node-core/dist/db/sync-helper');

const schema = `unnest_${randomBytes(4).toString('hex')}`;
const enumType = enumNameToHash('Status'); // the type name node-core gives the enum Status
let sequelize: Sequelize;

type Field = Parameters<typeof getColumnOption>[0];
const field = (name: string, type: string, extra: Partial<Field> = {}): Field =>
  ({ name, type, nullable: true, isArray: false, isEnum: false, ...extra }) as Field;
const jsonInterface = { name: 'Args', fields: [field('amount', 'BigInt'), field('note', 'String')] };

/** The attributes node-core defines for an entity with every kind of column our schema uses. */
function attributes(extra: Field[] = []) {
  const enums = new Map([[enumType, { enumValues: ['OPEN', 'CLOSED', "it's"] }]]);
  const fields = [
    field('id', 'ID', { nullable: false }),
    field('label', 'String'),
    field('amount', 'BigInt'),
    field('count', 'Int'),
    field('flag', 'Boolean'),
    field('when', 'Date'),
    field('status', 'Status', { isEnum: true }),
    field('args', 'Args', { jsonInterface } as Partial<Field>),
    field('tags', 'String', { isArray: true }),
    field('orderId', 'String'),
    ...extra,
  ];
  const attrs = Object.fromEntries(fields.map((f) => [f.name, getColumnOption(f, enums as never, schema)]));
  addIdAndBlockRangeAttributes(attrs as never);
  return attrs;
}

async function defineTable(name: string, extra: Field[] = []): Promise<ModelStatic<Model>> {
  const model = sequelize.define(name, attributes(extra) as never, { underscored: true, freezeTableName: true, timestamps: false, schema });
  await model.sync();
  return model;
}

/** Every row of a table as JSON text, without the random __id, in a stable order. */
async function rowsOf(table: string): Promise<string[]> {
  const [rows] = await sequelize.query(`SELECT (to_jsonb(t) - '_id')::text AS row FROM "${schema}"."${table}" t ORDER BY id, lower(_block_range)`);
  return (rows as { row: string }[]).map((r) => r.row);
}

const range = (start: number, end: number | null) => sequelize.fn('int8range', start, end);

/** Records as the store cache hands them to the flush: entity data plus __block_range. */
function records(): Record<string, unknown>[] {
  const awkward = ['', "quote ' and ''", 'back\\slash \\n', 'double " quote', '{braces},commas', 'NULL', 'null', ' spaced ', 'nul\0byte', 'émoji 🧾 ünïcode', '\t\n\r'];
  // (A NUL inside JSON is refused by Postgres' jsonb either way, so JSON gets the text without it.)
  const rows: Record<string, unknown>[] = awkward.map((label, i) => ({
    id: `row-${String(i).padStart(2, '0')}`,
    label,
    amount: i % 2 ? 10n ** 40n + BigInt(i) : -BigInt(i),
    count: i % 3 ? i * 1_000_000 : -2_147_483_648,
    flag: i % 2 === 0,
    when: i % 2 ? new Date(Date.UTC(2026, 0, i + 1, 12, 30, 45, 123)) : `2026-12-0${(i % 9) + 1}T01:02:03.456Z`,
    status: i % 3 === 0 ? 'OPEN' : i % 3 === 1 ? 'CLOSED' : "it's",
    args: { amount: 5n ** BigInt(i + 20), note: label.replace('\0', ''), nested: { list: [i, label.replace('\0', ''), null, { deep: true }] } },
    tags: [label.replace('\0', ''), 'x', ''],
    orderId: `0x${'ab'.repeat(32)}`,
    __block_range: range(i, i % 4 ? null : i + 7),
  }));
  // Absent, undefined and null keys; a key that is not an attribute; a second version of a row.
  rows.push({ id: 'sparse-1', __block_range: range(3, null) });
  rows.push({ id: 'sparse-2', label: undefined, amount: null, args: null, tags: [], count: 0, flag: false, notAnAttribute: 'ignored', __block_range: range(4, 9) });
  rows.push({ ...rows[0], label: 'second version', __block_range: range(7, null) });
  return rows;
}

beforeAll(async () => {
  sequelize = new Sequelize(process.env.DATABASE_URL!, { logging: false, timezone: 'utc' });
  await sequelize.query(`CREATE SCHEMA "${schema}"`);
  await sequelize.query(`CREATE TYPE "${schema}"."${enumType}" AS ENUM ('OPEN', 'CLOSED', 'it''s')`);
});

afterAll(async () => {
  await sequelize.query(`DROP SCHEMA "${schema}" CASCADE`);
  await sequelize.close();
});

describe('patched node-core historical flush (one array per column)', () => {
  it('writes the same rows as bulkCreate, value for value', async () => {
    const [viaBulkCreate, viaUnnest] = [await defineTable('via_bulk_create'), await defineTable('via_unnest')];
    await viaBulkCreate.bulkCreate(records(), { returning: false });
    const plan = planUnnestInsert(viaUnnest);
    expect(plan).not.toBeNull();
    const used = await sequelize.transaction((transaction) => unnestInsert(plan, records(), transaction));
    expect(used).toBe(true);

    const [expected, actual] = [await rowsOf('via_bulk_create'), await rowsOf('via_unnest')];
    expect(actual).toHaveLength(records().length);
    expect(actual).toEqual(expected);
    const [ids] = await sequelize.query(`SELECT count(DISTINCT _id) AS n FROM "${schema}".via_unnest`);
    expect(Number((ids as { n: string }[])[0]!.n)).toBe(records().length);
  });

  it('steps aside, writing nothing, for a value only the literal form handles', async () => {
    const model = await defineTable('fallback_values');
    const plan = planUnnestInsert(model);
    // A fractional number for an Int column: the literal form rounds it, a cast would fail.
    const rows = [{ id: 'a', count: 1, __block_range: range(1, null) }, { id: 'b', count: 2.5, __block_range: range(1, null) }];
    expect(await sequelize.transaction((transaction) => unnestInsert(plan, rows, transaction))).toBe(false);
    expect(await rowsOf('fallback_values')).toEqual([]);
  });

  it('leaves a model with a column type it does not cover to bulkCreate', async () => {
    const model = await defineTable('fallback_types', [field('raw', 'Bytes')]);
    expect(planUnnestInsert(model)).toBeNull();
    expect(await sequelize.transaction((transaction) => unnestInsert(null, [{ id: 'a', __block_range: range(1, null) }], transaction))).toBe(false);
  });
});
