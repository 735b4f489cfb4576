/**
 * The console's only way to the backend: the public GraphQL API on this origin, called
 * with the generated typed documents. Signed-in calls carry the session's access token,
 * renewed with the refresh token when it has expired.
 */
import type { TypedDocumentString } from './gql/graphql';
import { session } from './session';

export class ApiError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

const ENDPOINT = '/graphql';

async function post(query: string, variables: unknown, token: string | null): Promise<{ data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(ENDPOINT, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('json')) throw new ApiError(`the API answered ${res.status} ${res.statusText}`, 'NETWORK');
  return res.json();
}

export async function request<R, V>(doc: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  let token = await session.accessToken();
  let body = await post(doc.toString(), variables ?? {}, token);
  if (token && body.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
    token = await session.renew();
    if (token) body = await post(doc.toString(), variables ?? {}, token);
  }
  if (body.errors?.length) {
    const first = body.errors[0]!;
    throw new ApiError(body.errors.map((e) => e.message).join('; '), first.extensions?.code);
  }
  return body.data as R;
}

/**
 * A live subscription over Server-Sent Events (GraphQL Yoga answers GET /graphql with
 * `Accept: text/event-stream`). Public data only: EventSource cannot send a token.
 */
export function subscribe<R, V>(doc: TypedDocumentString<R, V>, variables: V, onData: (data: R) => void, onError: (e: string) => void): () => void {
  const url = `${ENDPOINT}?query=${encodeURIComponent(doc.toString())}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
  const source = new EventSource(url);
  source.addEventListener('next', (ev) => {
    const body = JSON.parse((ev as MessageEvent<string>).data) as { data?: R; errors?: { message: string }[] };
    if (body.errors?.length) onError(body.errors.map((e) => e.message).join('; '));
    else if (body.data) onData(body.data);
  });
  source.addEventListener('complete', () => source.close());
  source.onerror = () => onError('live updates interrupted; retrying');
  return () => source.close();
}
