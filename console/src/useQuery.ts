/** Runs a typed query, again every `pollMs` when asked (live views), with loading and error states. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { TypedDocumentString } from './gql/graphql';
import { request } from './api';
import { useSession } from './useSession';

export interface QueryState<R> { data: R | undefined; error: string | null; loading: boolean; reload: () => void }

export function useQuery<R, V>(doc: TypedDocumentString<R, V>, variables: V, opts: { pollMs?: number; skip?: boolean } = {}): QueryState<R> {
  const [data, setData] = useState<R>();
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(!opts.skip);
  const key = JSON.stringify(variables);
  const who = useSession()?.address ?? '';
  const run = useRef(0);

  const load = useCallback(async () => {
    const mine = ++run.current;
    try {
      const r = await request(doc, JSON.parse(key) as V);
      if (mine === run.current) {
        setData(r);
        setError(null);
      }
    } catch (e) {
      if (mine === run.current) setError((e as Error).message);
    } finally {
      if (mine === run.current) setLoading(false);
    }
  }, [doc, key, who]);

  useEffect(() => {
    if (opts.skip) return;
    setLoading(true);
    setData(undefined);
    void load();
    if (!opts.pollMs) return;
    const timer = setInterval(() => void load(), opts.pollMs);
    return () => clearInterval(timer);
  }, [load, opts.pollMs, opts.skip]);

  return { data, error, loading, reload: () => void load() };
}
