/**
 * `prisma migrate` cannot run offline, so the `app` schema is built by hand-written SQL
 * (api/migrations). This proves schema.prisma and the migrated database agree: every
 * model's table, every column's type, nullability and default presence, primary keys,
 * indexes, foreign keys and enums, in both directions; then the generated client does a
 * round trip through the pg adapter.
 */
import './support/prisma';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { migrate } from '@descrow/common';
import { createTestDatabase } from '@descrow/common/src/testing/database';
import { MIGRATIONS_DIR } from '../src/app';
import { createDb } from '../src/data/db';

interface Field { name: string; column: string; type: string; optional: boolean; list: boolean; attrs: string }
interface Model { name: string; table: string; fields: Field[]; block: string }

const SCALAR_SQL: Record<string, string> = { String: 'text', Int: 'integer', Boolean: 'boolean', DateTime: 'timestamp(3) without time zone', Decimal: 'numeric(65,30)', BigInt: 'bigint' };

function parsePrisma(src: string) {
  const clean = src.replace(/\/\/.*$/gm, '');
  const enums = new Map<string, string[]>();
  for (const m of clean.matchAll(/enum\s+(\w+)\s*\{([^}]*)\}/g)) enums.set(m[1]!, m[2]!.split(/\s+/).filter((w) => /^[A-Z_]+$/.test(w)));
  const models: Model[] = [];
  for (const m of clean.matchAll(/model\s+(\w+)\s*\{([^}]*)\}/g)) {
    const block = m[2]!;
    const table = /@@map\("([^"]+)"\)/.exec(block)?.[1] ?? m[1]!;
    const fields: Field[] = [];
    for (const line of block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('@@'))) {
      const f = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!f) continue;
      fields.push({ name: f[1]!, type: f[2]!, list: !!f[3], optional: !!f[4], attrs: f[5] ?? '', column: /@map\("([^"]+)"\)/.exec(f[5] ?? '')?.[1] ?? f[1]! });
    }
    models.push({ name: m[1]!, table, fields, block });
  }
  return { enums, models };
}

function expectedSqlType(f: Field, enums: Map<string, string[]>): string {
  if (enums.has(f.type)) return `enum:${f.type}`;
  const db = /@db\.(\w+)(?:\(([^)]*)\))?/.exec(f.attrs);
  if (db) {
    const [, kind, args] = db;
    if (kind === 'Uuid') return 'uuid';
    if (kind === 'Timestamptz') return `timestamp(${args ?? 6}) with time zone`;
    if (kind === 'Decimal') return `numeric(${args!.replace(/\s/g, '')})`;
    if (kind === 'Text') return 'text';
  }
  return SCALAR_SQL[f.type]!;
}

let db: { url: string; drop: () => Promise<void> };
let pool: Pool;
const schema = parsePrisma(readFileSync(resolve(__dirname, '../prisma/schema.prisma'), 'utf8'));

beforeAll(async () => {
  db = await createTestDatabase('api_prisma');
  pool = new Pool({ connectionString: db.url, max: 2 });
  // An idle client the server closes (the scratch database dropped WITH FORCE) must not crash the file.
  pool.on('error', () => undefined);
  await migrate(pool, 'app', MIGRATIONS_DIR);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

test('every model is a table with exactly its columns, types, nullability and defaults', async () => {
  const { rows: cols } = await pool.query<{ table_name: string; column_name: string; is_nullable: string; t: string; column_default: string | null }>(
    `SELECT c.table_name, c.column_name, c.is_nullable, c.column_default,
            CASE WHEN c.data_type = 'USER-DEFINED' THEN 'enum:' || c.udt_name ELSE format_type(a.atttypid, a.atttypmod) END AS t
       FROM information_schema.columns c
       JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
      WHERE c.table_schema = 'app' AND c.table_name <> 'schema_migrations'`,
  );
  const tables = new Set(cols.map((c) => c.table_name));
  expect([...tables].sort()).toEqual(schema.models.map((m) => m.table).sort());
  for (const m of schema.models) {
    const scalars = m.fields.filter((f) => SCALAR_SQL[f.type] || schema.enums.has(f.type));
    const actual = cols.filter((c) => c.table_name === m.table);
    expect(actual.map((c) => c.column_name).sort()).toEqual(scalars.map((f) => f.column).sort());
    for (const f of scalars) {
      const c = actual.find((x) => x.column_name === f.column)!;
      expect({ column: `${m.table}.${f.column}`, type: c.t.replace(/timestamp with time zone$/, 'timestamp(6) with time zone') }).toEqual({ column: `${m.table}.${f.column}`, type: expectedSqlType(f, schema.enums) });
      expect({ column: `${m.table}.${f.column}`, nullable: c.is_nullable === 'YES' }).toEqual({ column: `${m.table}.${f.column}`, nullable: f.optional });
      // A Prisma @default(now()/literal) must be a database default too (raw SQL inserts rely on it).
      if (/@default\((?!uuid|cuid)/.test(f.attrs)) expect({ column: `${m.table}.${f.column}`, hasDefault: c.column_default !== null }).toEqual({ column: `${m.table}.${f.column}`, hasDefault: true });
    }
  }
});

test('primary keys, indexes, foreign keys and enums match', async () => {
  const { rows: idx } = await pool.query<{ table: string; cols: string[]; primary: boolean }>(
    `SELECT t.relname AS table, i.indisprimary AS primary,
            array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum)) AS cols
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)
      WHERE n.nspname = 'app' AND t.relname <> 'schema_migrations' GROUP BY t.relname, i.indexrelid, i.indisprimary`,
  );
  const { rows: fks } = await pool.query<{ table: string; col: string; ref_table: string; ref_col: string }>(
    `SELECT tc.table_name AS table, kcu.column_name AS col, ccu.table_name AS ref_table, ccu.column_name AS ref_col
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
       JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
      WHERE tc.table_schema = 'app' AND tc.constraint_type = 'FOREIGN KEY'`,
  );
  const { rows: enumRows } = await pool.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'app' GROUP BY t.typname`,
  );
  const col = (m: Model, field: string) => m.fields.find((f) => f.name === field)!.column;
  const expectedIdx: string[] = [];
  const expectedFks: string[] = [];
  for (const m of schema.models) {
    const id = m.fields.find((f) => /@id\b/.test(f.attrs))!;
    expectedIdx.push(`${m.table} PK (${id.column})`);
    for (const i of m.block.matchAll(/@@index\(\[([^\]]+)\]\)/g)) expectedIdx.push(`${m.table} (${i[1]!.split(',').map((s) => col(m, s.trim())).join(',')})`);
    for (const f of m.fields.filter((x) => /@unique\b/.test(x.attrs))) expectedIdx.push(`${m.table} (${f.column})`);
    for (const r of m.block.matchAll(/@relation\(fields: \[(\w+)\], references: \[(\w+)\]\)/g)) {
      const relField = m.fields.find((f) => f.attrs.includes(r[0]!))!;
      const target = schema.models.find((x) => x.name === relField.type)!;
      expectedFks.push(`${m.table}.${col(m, r[1]!)} -> ${target.table}.${col(target, r[2]!)}`);
    }
  }
  // Enum arrays come back from pg as "{a,b}" strings unless the type is registered.
  const arr = (v: string[] | string) => (Array.isArray(v) ? v : v.replace(/^\{|\}$/g, '').split(','));
  expect(idx.map((i) => `${i.table} ${i.primary ? 'PK ' : ''}(${arr(i.cols).join(',')})`).sort()).toEqual(expectedIdx.sort());
  expect(fks.map((f) => `${f.table}.${f.col} -> ${f.ref_table}.${f.ref_col}`).sort()).toEqual(expectedFks.sort());
  expect(Object.fromEntries(enumRows.map((e) => [e.name, arr(e.labels)]))).toEqual(Object.fromEntries(schema.enums));
});

test('the generated client round-trips every model through the migrated tables', async () => {
  const { prisma, pool: p } = createDb(db.url, 2);
  try {
    const address = `0x${'ab'.repeat(20)}`;
    await prisma.user.create({ data: { address, displayName: 'Amina', phone: '254712345678' } });
    const product = await prisma.product.create({ data: { id: randomUUID(), sellerId: address, title: 'Lamp', priceNative: '123456789012345678901234567890', priceKes: 250 } });
    const orderId = `0x${'cd'.repeat(32)}`;
    await prisma.orderDraft.create({ data: { orderId, productId: product.id, buyer: `0x${'ef'.repeat(20)}`, seller: address, amount: '250', paymentMode: 'MPESA', deliveryAddress: 'Tom Mboya St 1', metadataCid: 'bafkreiabc' } });
    await prisma.evidence.create({ data: { id: randomUUID(), orderId, uploader: address, cid: 'bafkreiabc', filename: 'a.jpg', mimeType: 'image/jpeg', size: 3 } });
    await prisma.loginChallenge.create({ data: { nonce: 'n1', address, message: 'm', expiresAt: new Date(Date.now() + 1000) } });
    const back = await prisma.user.findUnique({ where: { address }, include: { products: { include: { drafts: true } } } });
    expect(back?.products[0]?.priceNative?.toFixed()).toBe('123456789012345678901234567890');
    expect(back?.products[0]?.drafts[0]?.paymentMode).toBe('MPESA');
    expect(await prisma.evidence.count({ where: { orderId } })).toBe(1);
    // The database's own checks back the API's validation.
    await expect(prisma.user.create({ data: { address: `0x${'12'.repeat(20)}`, phone: '0712345678' } })).rejects.toThrow();
  } finally {
    await prisma.$disconnect();
    await p.end();
  }
});
