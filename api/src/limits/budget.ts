/**
 * The cap on what one answer holds, while it is being built: every list field adds its
 * items to the request's count as it resolves (API_MAX_NODES), and once the count is over,
 * every list field after it fails at once instead of loading more. The JSON size of the
 * finished answer is capped too (API_MAX_RESPONSE_BYTES). Together with the cost limit
 * (./cost), which refuses what is too big on paper, this bounds the memory one request can
 * take even where a list is longer than the cost model guessed.
 */
import { GraphQLError, defaultFieldResolver, getNullableType, isListType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { Plugin } from 'graphql-yoga';

const tooLarge = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', reason: 'RESPONSE_TOO_LARGE' } });

/** One answer's count of list items. */
export class ResponseBudget {
  items = 0;
  private error: GraphQLError | null = null;
  constructor(private readonly maxItems: number) {}

  /** Each subscription event is an answer of its own. */
  reset(): void {
    this.items = 0;
    this.error = null;
  }

  spend(n: number): void {
    if (this.error) throw this.error;
    this.items += n;
    if (this.items > this.maxItems) {
      this.error = tooLarge(`the answer would hold more than ${this.maxItems} items: ask for fewer (first) or fewer nested lists`);
      throw this.error;
    }
  }
}

const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as Promise<unknown> | null)?.then === 'function';

/** The schema with every list field counting its items against `ctx.budget`. */
export function countListItems(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field) => {
      if (!isListType(getNullableType(field.type))) return field;
      const resolve: GraphQLFieldResolver<unknown, { budget?: ResponseBudget }> = field.resolve ?? defaultFieldResolver;
      const count = (v: unknown, budget: ResponseBudget) => {
        if (Array.isArray(v)) budget.spend(v.length);
        return v;
      };
      return {
        ...field,
        resolve: (src, args, ctx: { budget?: ResponseBudget }, info) => {
          const budget = ctx.budget;
          if (!budget) return resolve(src, args, ctx, info);
          budget.spend(0); // already over: fail before loading anything
          const v = resolve(src, args, ctx, info);
          return isPromise(v) ? v.then((x) => count(x, budget)) : count(v, budget);
        },
      };
    },
  });
}

/** Replaces an answer larger than `maxBytes` of JSON with an error saying so. */
export function useResponseSizeLimit(maxBytes: number): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (Symbol.asyncIterator in result) return;
        const bytes = Buffer.byteLength(JSON.stringify(result));
        if (bytes > maxBytes) setResult({ errors: [tooLarge(`the answer is ${bytes} bytes, more than the ${maxBytes} allowed: ask for fewer items (first) or fewer fields`)] });
      },
    }),
  };
}
