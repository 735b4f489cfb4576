/** Cursor pagination: opaque base64url cursors, page sizes clamped to API_MAX_PAGE. */
import { badInput } from '../errors';
import type { Ctx } from '../context';

export function pageSize(ctx: Ctx, first: number | null | undefined): number {
  const { API_DEFAULT_PAGE, API_MAX_PAGE } = ctx.deps.config;
  if (first === null || first === undefined) return Math.min(API_DEFAULT_PAGE, API_MAX_PAGE);
  if (!Number.isInteger(first) || first < 0) badInput('first must be a non-negative integer', 'first');
  return Math.min(first, API_MAX_PAGE);
}

export const encodeCursor = (...parts: (string | number)[]): string => Buffer.from(JSON.stringify(parts)).toString('base64url');

export function decodeCursor<T extends unknown[]>(cursor: string | null | undefined, check: (v: unknown[]) => boolean): T | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && check(v)) return v as T;
  } catch {
    /* fall through */
  }
  return badInput('after is not a cursor this API gave out', 'after');
}

/** Rows fetched with limit + 1 → a connection. */
export function connection<T, N = T>(rows: T[], limit: number, cursorOf: (r: T) => string, toNode: (r: T) => N = (r) => r as unknown as N) {
  const page = rows.slice(0, limit);
  const edges = page.map((r) => ({ cursor: cursorOf(r), node: toNode(r) }));
  return { edges, nodes: edges.map((e) => e.node), pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
}
