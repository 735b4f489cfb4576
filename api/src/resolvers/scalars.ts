import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const bad = (m: string) => new GraphQLError(m, { extensions: { code: 'BAD_USER_INPUT' } });

export const BigIntScalar = new GraphQLScalarType({
  name: 'BigInt',
  description: 'An integer of any size, as a decimal string.',
  serialize: (v) => (typeof v === 'bigint' ? v.toString() : String(v)),
  parseValue: (v) => {
    if ((typeof v === 'string' && /^-?\d{1,78}$/.test(v)) || (typeof v === 'number' && Number.isSafeInteger(v))) return String(v);
    throw bad('BigInt must be an integer as a decimal string');
  },
  parseLiteral: (ast) => {
    if ((ast.kind === Kind.STRING || ast.kind === Kind.INT) && /^-?\d{1,78}$/.test(ast.value)) return ast.value;
    throw bad('BigInt must be an integer as a decimal string');
  },
});

const toDate = (v: unknown): Date => {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw bad('DateTime must be an ISO-8601 date-time');
  return d;
};

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO-8601 date-time in UTC.',
  serialize: (v) => toDate(v).toISOString(),
  parseValue: (v) => {
    if (typeof v !== 'string') throw bad('DateTime must be an ISO-8601 string');
    return toDate(v);
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw bad('DateTime must be an ISO-8601 string');
    return toDate(ast.value);
  },
});

export const JSONScalar = new GraphQLScalarType({ name: 'JSON', serialize: (v) => v, parseValue: (v) => v, parseLiteral: () => null });
