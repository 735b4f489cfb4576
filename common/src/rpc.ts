/**
 * One Ethereum JSON-RPC call over HTTP: the result, or an error naming the method (the
 * RPC's HTTP status, or its error message). viem's clients do far more than the health
 * checks, backups and start-block search need from a node: one call, one answer.
 */
export async function jsonRpc<T>(url: string, method: string, params: unknown[] = [], timeoutMs?: number): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`${method}: the RPC answered ${res.status}`);
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}
