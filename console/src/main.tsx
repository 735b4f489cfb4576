/** The console: layout, navigation, search and routes. */
import { StrictMode, useState, type FormEvent, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';
import { Link, navigate, useLocation } from './router';
import { hasRole, useSession } from './useSession';
import { session } from './session';
import { short } from './format';
import { Explorer } from './pages/Explorer';
import { Search } from './pages/Search';
import { OrderPage } from './pages/Order';
import { AccountPage, BlockPage, TxPage } from './pages/Chain';
import { SignIn } from './pages/SignIn';
import { Reconciliation } from './pages/Reconciliation';
import { Disputes } from './pages/Disputes';
import { HealthPage, KycPage, PayoutsPage } from './pages/Operations';
import { Empty } from './ui/parts';

function SearchBox() {
  const { query } = useLocation();
  const [text, setText] = useState(query.get('q') ?? '');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) navigate(`/search?q=${encodeURIComponent(text.trim())}`);
  };
  return (
    <form role="search" className="search" onSubmit={submit}>
      <label htmlFor="search" className="visually-hidden">Search by order id, transaction hash, block, address or M-Pesa receipt</label>
      <input id="search" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Order id, tx hash, address, M-Pesa receipt" />
      <button type="submit">Search</button>
    </form>
  );
}

function Nav() {
  const s = useSession();
  const { path } = useLocation();
  const item = (to: string, label: string) => <li><Link to={to} aria-current={path === to ? 'page' : undefined}>{label}</Link></li>;
  const admin = hasRole(s, 'ADMIN');
  return (
    <nav aria-label="Main">
      <ul>
        {item('/', 'Explorer')}
        {(admin || hasRole(s, 'ARBITER')) && item('/admin/disputes', 'Disputes')}
        {admin && item('/admin/reconciliation', 'Reconciliation')}
        {admin && item('/admin/payouts', 'Payouts')}
        {admin && item('/admin/kyc', 'KYC')}
        {admin && item('/admin/health', 'Health')}
        {s ? (
          <li className="who">
            <Link to={`/account/${s.address}`}>{short(s.address, 4)}</Link> <span className="small">({s.roles.filter((r) => r === 'ADMIN' || r === 'ARBITER').join(', ') || 'user'})</span>{' '}
            <button type="button" onClick={() => void session.signOut().then(() => navigate('/'))}>Sign out</button>
          </li>
        ) : item('/signin', 'Sign in')}
      </ul>
    </nav>
  );
}

function Restricted({ role, children }: { role: 'ADMIN' | 'ARBITER' | 'ADMIN_OR_ARBITER'; children: ReactNode }) {
  const s = useSession();
  const ok = role === 'ADMIN_OR_ARBITER' ? hasRole(s, 'ADMIN') || hasRole(s, 'ARBITER') : hasRole(s, role);
  if (ok) return <>{children}</>;
  return (
    <>
      <h1>Sign in needed</h1>
      <p>This page is for {role === 'ADMIN' ? 'admins' : 'admins and the arbiter'}. <Link to="/signin">Sign in</Link> with an account that has the role.</p>
    </>
  );
}

function Page() {
  const { path, query } = useLocation();
  const [, section, id] = path.split('/');
  switch (section) {
    case '': return <Explorer />;
    case 'search': return <Search text={query.get('q') ?? ''} />;
    case 'order': return <OrderPage id={id ?? ''} />;
    case 'tx': return <TxPage hash={id ?? ''} />;
    case 'block': return <BlockPage id={id ?? ''} />;
    case 'account': return <AccountPage address={id ?? ''} />;
    case 'signin': return <SignIn />;
    case 'admin':
      if (id === 'disputes') return <Restricted role="ADMIN_OR_ARBITER"><Disputes /></Restricted>;
      if (id === 'reconciliation') return <Restricted role="ADMIN"><Reconciliation /></Restricted>;
      if (id === 'payouts') return <Restricted role="ADMIN"><PayoutsPage /></Restricted>;
      if (id === 'kyc') return <Restricted role="ADMIN"><KycPage /></Restricted>;
      if (id === 'health') return <Restricted role="ADMIN"><HealthPage /></Restricted>;
  }
  return <Empty>No such page. <Link to="/">Back to the explorer</Link>.</Empty>;
}

function App() {
  const { path, query } = useLocation();
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header>
        <Link to="/" className="brand">Descrow console</Link>
        <SearchBox key={query.get('q') ?? ''} />
        <Nav />
      </header>
      <main id="main" tabIndex={-1} key={path}>
        <Page />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
