/**
 * What an operation may cost, computed before it runs with its variables' values
 * (graphql-query-complexity's getComplexity with the request's variables), so
 * `first: $n` costs what `first: 100` costs. One unit is about 100 bytes of answer:
 *
 * - a field costs 1, plus what its selection costs;
 * - a field with `first` multiplies its selection by the `first` asked for (the default
 *   page when absent) — the request, not what the resolver clamps it to;
 * - a connection's `nodes` and `edges` are that page (the `first` above them counted it);
 * - any other list (an order's events, a block's transactions, …) counts as LIST_GUESS
 *   items; the item cap (./budget) stops the rare longer one while it runs;
 * - long text costs by its longest possible length (FIELD_COST).
 *
 * Anything over the limit is refused (BAD_USER_INPUT) before a resolver runs.
 */
import { GraphQLError, getNullableType, isListType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';

/** Items a list without `first` is expected to hold. */
export const LIST_GUESS = 10;

/** Fields whose value can be long: about one unit per 100 bytes of their largest value. */
export const FIELD_COST: Record<string, number> = {
  'Product.description': 50, // 5,000 characters
  'Product.title': 2,
  'Order.deliveryAddress': 5,
  'Tracking.note': 20,
  'Tracking.url': 5,
  'Evidence.note': 20,
  'Evidence.filename': 2,
  'DisputeCase.statement': 50,
  // Up to 1.4 MB (a 1 MiB document, base64), but only its owner and admins get it, a few at a
  // time; the answer's byte cap (./budget) bounds it rather than the cost.
  'KycDocument.contentBase64': 1_000,
  'Kyc.reason': 10,
  'AuditEntry.details': 20,
  'RefundCase.reason': 5,
  'RefundCase.note': 5,
  'AttentionPayout.reason': 5,
  'ConsoleSettings.devWallet': 5,
};

function estimator(defaultPage: number): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    const own = FIELD_COST[`${type.name}.${field.name}`] ?? 1;
    if (field.args.some((a) => a.name === 'first')) {
      const first = typeof args.first === 'number' && args.first >= 0 ? args.first : defaultPage;
      return own + first * childComplexity;
    }
    if (type.name.endsWith('Connection') && (field.name === 'nodes' || field.name === 'edges')) return own + childComplexity;
    const listed = isListType(getNullableType(field.type));
    return own + (listed ? LIST_GUESS * Math.max(1, childComplexity) : childComplexity);
  };
}

export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | undefined | null, defaultPage: number): number {
  return getComplexity({ schema, query: document, variables: variables ?? {}, operationName: operationName ?? undefined, estimators: [estimator(defaultPage)] });
}

const refusal = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/** Refuses, before execution, an operation (query, mutation or subscription) that costs more than `maxCost`. */
export function useOperationCost(opts: { maxCost: number; defaultPage: number }): Plugin {
  const judge = (args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown; operationName?: string | null }): GraphQLError | null => {
    let cost: number;
    try {
      cost = operationCost(args.schema, args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName, opts.defaultPage);
    } catch (e) {
      return refusal((e as Error).message);
    }
    return cost > opts.maxCost ? refusal(`Query Cost limit of ${opts.maxCost} exceeded, found ${Math.ceil(cost)}: ask for fewer items (first) or fewer fields`) : null;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const err = judge(args);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const err = judge(args);
      if (err) setResultAndStopExecution({ errors: [err] });
    },
  };
}
