/** Sign in with a browser wallet (EIP-4361), or in development as one of the dev accounts. */
import { useState } from 'react';
import { graphql } from '../gql';
import { useQuery } from '../useQuery';
import { session } from '../session';
import { useSession } from '../useSession';
import { navigate } from '../router';
import { short } from '../format';
import { ErrorBox } from '../ui/parts';

export const Settings = graphql(`
  query ConsoleSettings { consoleSettings { chainId escrowAddress arbiterAddress environment devWallet { rpcUrl accounts { role address } } } }
`);

export function SignIn() {
  const settings = useQuery(Settings, {});
  const current = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    setError(null);
    try {
      await fn();
      const s = session.get();
      navigate(s?.roles.includes('ADMIN') ? '/admin/reconciliation' : s?.roles.includes('ARBITER') ? '/admin/disputes' : `/account/${s?.address}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  };
  const dev = settings.data?.consoleSettings.devWallet;
  return (
    <>
      <h1>Sign in</h1>
      {current && <p>Signed in as <span className="mono">{current.address}</span> ({current.roles.join(', ')}).</p>}
      <p>Your wallet signs a sign-in message (EIP-4361) from the API; nothing is sent on chain.</p>
      <button type="button" className="primary" disabled={!!busy} onClick={() => run('browser', () => session.signInWithBrowserWallet())}>
        {busy === 'browser' ? 'Waiting for the wallet…' : 'Sign in with a browser wallet'}
      </button>
      {dev && (
        <section aria-labelledby="dev-h" className="dev">
          <h2 id="dev-h">Development accounts</h2>
          <p className="small">This API runs in {settings.data?.consoleSettings.environment}: the dev chain signs for its well-known accounts. Production offers none of this.</p>
          <ul className="buttons">
            {dev.accounts.map((a) => (
              <li key={a.role}>
                <button type="button" disabled={!!busy} onClick={() => run(a.role, () => session.signInAsDev(dev.rpcUrl, a.role, a.address))}>
                  Sign in as {a.role} <span className="mono small">{short(a.address, 4)}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {busy && <p role="status">Signing in…</p>}
      {error && <ErrorBox error={error} />}
    </>
  );
}
