/**
 * The console is the API's own client: every operation it ships must fit the API's default
 * cost limit, or a page shows an error instead of its data. Found when the cost came to be
 * computed with variables: the dispute queue asked for 50 cases with statements and
 * evidence (cost 29,051 against 20,000) and the arbiter saw no dispute at all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSchema, isEnumType, isInputObjectType, isListType, isNonNullType, parse, typeFromAST, type GraphQLInputType, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { z } from 'zod';
import { apiEnvShape } from '../src/config';
import { operationCost } from '../src/limits/cost';

const CONSOLE_SRC = resolve(__dirname, '../../console/src');
const schema: GraphQLSchema = buildSchema(readFileSync(resolve(__dirname, '../src/schema/schema.graphql'), 'utf8'));
const defaults = z.object(apiEnvShape).parse({});

/** Every graphql(`…`) document in the console's sources. */
function consoleDocuments(): { file: string; source: string }[] {
  const out: { file: string; source: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name !== 'gql') walk(p);
      else if (/\.tsx?$/.test(e.name)) for (const m of readFileSync(p, 'utf8').matchAll(/graphql\(`([^`]*)`\)/g)) out.push({ file: p.slice(CONSOLE_SRC.length + 1), source: m[1]! });
    }
  };
  walk(CONSOLE_SRC);
  return out;
}

/** A value of a GraphQL input type: its required parts only (optional ones stay unset: the resolvers' defaults apply). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, sample(f.type)]));
  }
  if (isEnumType(type)) return type.getValues()[0]!.value;
  return ({ String: 'x', ID: `0x${'ab'.repeat(32)}`, Int: 1, Float: 1, Boolean: true, BigInt: '1', DateTime: new Date().toISOString() } as Record<string, unknown>)[type.name] ?? 'x';
}

function sampleVariables(op: OperationDefinitionNode): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const v of op.variableDefinitions ?? []) {
    const type = typeFromAST(schema, v.type as never) as GraphQLInputType | undefined;
    if (type && isNonNullType(type)) vars[v.variable.name.value] = sample(type);
  }
  return vars;
}

test("every operation the console ships costs less than the API's default limit", () => {
  const docs = consoleDocuments();
  expect(docs.length).toBeGreaterThan(10);
  const costs = docs.flatMap(({ file, source }) => parse(source).definitions
    .filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')
    .map((op) => ({ op: `${file}: ${op.name?.value}`, cost: operationCost(schema, { kind: 'Document', definitions: [op] } as never, sampleVariables(op), op.name?.value, defaults.API_DEFAULT_PAGE) })));
  expect(costs.filter((c) => c.cost > defaults.API_MAX_COST)).toEqual([]);
});
