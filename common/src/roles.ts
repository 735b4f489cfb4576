/**
 * Database roles (issue 25): one Postgres role per service, each with only the rights it
 * needs, set up by one idempotent step (`npm run db:setup`, compose's `db-setup`, and
 * `npm start` before the services) that runs as the server's admin role:
 *
 * - the owner role (NOLOGIN) owns the API's schema `app`; its migrations run as it;
 * - the API reads and writes its own tables, but may only INSERT and SELECT the audit log
 *   (it owns nothing, so it cannot ALTER TABLE … DISABLE TRIGGER, UPDATE, DELETE or
 *   TRUNCATE it), reads the oracle's ledger and the index, and writes neither;
 * - the oracle owns its schema (it applies its own migrations at start);
 * - the SubQuery node owns the index schema; the query service only reads it.
 *
 * Each service's role and password are the user and password of that service's own
 * DATABASE_URL (API_DATABASE_URL, ORACLE_DATABASE_URL, …): one setting, no second copy.
 * Running it again changes passwords to the URLs' current ones, hands any object in the
 * schemas back to its owner (e.g. after a restore) and grants again.
 */
import type { PoolClient } from 'pg';
import { createPool } from './db';
import { migrate } from './migrate';

export type ServiceRole = 'api' | 'oracle' | 'indexer' | 'query';

export interface DatabaseSetupOptions {
  /** The admin connection (a superuser, or a role with CREATEROLE that may create schemas). */
  adminUrl: string;
  /** Each service's own connection URL; a service left out gets no role of its own. */
  services: Partial<Record<ServiceRole, string>>;
  /** The NOLOGIN role that owns the API's schema and runs its migrations. */
  ownerRole?: string;
  schemas?: { app?: string; oracle?: string; index?: string };
  /** The API's migrations (api/migrations). */
  appMigrations: string;
}

export interface DatabaseSetupResult { roles: Record<string, 'created' | 'updated'>; applied: string[] }

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The role and password a service connects with, from its URL. */
export function roleOf(url: string, service: string): { role: string; password: string } {
  const u = new URL(url);
  const role = decodeURIComponent(u.username);
  if (!IDENTIFIER.test(role)) throw new Error(`${service}: the role in its database URL (${role || 'none'}) must be a lower-case Postgres identifier`);
  const password = decodeURIComponent(u.password);
  if (!password) throw new Error(`${service}: its database URL has no password`);
  return { role, password };
}

/** The same server and database as `url`, as another role. */
export function asRole(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** Create or update the roles, own the schemas, apply the API's migrations as the owner, grant. */
export async function setupDatabase(opts: DatabaseSetupOptions): Promise<DatabaseSetupResult> {
  const owner = opts.ownerRole ?? 'descrow_owner';
  const schemas = { app: 'app', oracle: 'oracle', index: 'descrow_index', ...opts.schemas };
  for (const [what, name] of [['owner role', owner], ...Object.entries(schemas)]) {
    if (!IDENTIFIER.test(name!)) throw new Error(`${what} ${name} must be a lower-case Postgres identifier`);
  }
  const services = Object.entries(opts.services).filter(([, url]) => !!url).map(([service, url]) => ({ service: service as ServiceRole, ...roleOf(url!, `${service.toUpperCase()}_DATABASE_URL`) }));
  const role = (s: ServiceRole) => services.find((x) => x.service === s)?.role;

  const pool = createPool(opts.adminUrl, 'descrow-db-setup', { max: 2 });
  const result: DatabaseSetupResult = { roles: {}, applied: [] };
  const client = await pool.connect();
  try {
    const me = (await client.query<{ u: string; sup: boolean; db: string }>('SELECT current_user AS u, rolsuper AS sup, current_database() AS db FROM pg_roles WHERE rolname = current_user')).rows[0]!;
    const names = [owner, ...services.map((s) => s.role)];
    const clash = names.find((n, i) => n === me.u || names.indexOf(n) !== i);
    if (clash) throw new Error(`role ${clash} is used twice (or is the admin role of DATABASE_URL): give every service a role of its own`);
    await client.query('SELECT pg_advisory_lock(hashtext($1))', ['descrow:db-setup']);
    try {
      for (const r of [{ role: owner, password: null as string | null }, ...services]) {
        const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [r.role])).rowCount;
        const login = r.password === null ? 'NOLOGIN' : `LOGIN PASSWORD ${literal(r.password)}`;
        // Never more than a plain role: no superuser, no role or database creation, no RLS bypass.
        const plain = me.sup ? ' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS' : '';
        await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(r.role)} ${login}${plain}`);
        result.roles[r.role] = exists ? 'updated' : 'created';
      }
      // A non-superuser admin acts through membership: it must be able to SET ROLE to each owner.
      if (!me.sup) for (const r of [owner, role('oracle'), role('indexer')].filter(Boolean)) await client.query(`GRANT ${ident(r!)} TO ${ident(me.u)}`);
      // The index's historical mode needs btree_gist; created here so no service needs the right to.
      await client.query('CREATE EXTENSION IF NOT EXISTS btree_gist');
      await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');

      const owners: [string, string][] = [[schemas.app, owner], [schemas.oracle, role('oracle') ?? owner], [schemas.index, role('indexer') ?? owner]];
      for (const [schema, to] of owners) await ownSchema(client, schema, to);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['descrow:db-setup']);
    }

    result.applied = (await migrate(pool, schemas.app, opts.appMigrations, { role: owner })).applied;
    await grant(client, me.db, schemas, owner, { api: role('api'), oracle: role('oracle'), indexer: role('indexer'), query: role('query') });
    return result;
  } finally {
    client.release();
    await pool.end();
  }
}

/** The schema and everything in it belong to `to` (objects made by anyone else, e.g. a restore, are handed over). */
async function ownSchema(client: PoolClient, schema: string, to: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(to)}`);
  await client.query(`ALTER SCHEMA ${ident(schema)} OWNER TO ${ident(to)}`);
  const { rows } = await client.query<{ sql: string }>(
    `WITH objects AS (
       SELECT c.oid, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
              format('%I.%I', n.nspname, c.relname) AS name, c.relowner AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          -- a sequence owned by a column moves with its table
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
       UNION ALL
       SELECT p.oid, 'FUNCTION', p.oid::regprocedure::text, p.proowner
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prokind = 'f'
       UNION ALL
       SELECT t.oid, 'TYPE', format('%I.%I', n.nspname, t.typname), t.typowner
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
     )
     SELECT format('ALTER %s %s OWNER TO %I', kind, name, $2::text) AS sql FROM objects o
      WHERE o.owner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
        -- an extension's objects stay the extension's
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')`,
    [schema, to],
  );
  for (const r of rows) await client.query(r.sql);
}

/** Each role's rights, granted again from scratch (revokes first, so a narrowed grant takes effect). */
async function grant(client: PoolClient, database: string, schemas: { app: string; oracle: string; index: string }, owner: string, r: Partial<Record<ServiceRole, string>>): Promise<void> {
  const [app, oracle, index] = [ident(schemas.app), ident(schemas.oracle), ident(schemas.index)];
  const q = (sql: string) => client.query(sql);
  // Start every service role from nothing in the schemas it does not own, then grant what it needs.
  const owned: Record<string, string> = { [app]: owner, [oracle]: r.oracle ?? owner, [index]: r.indexer ?? owner };
  for (const who of Object.values(r).filter(Boolean) as string[]) {
    await q(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(who)}`);
    for (const schema of [app, oracle, index]) {
      if (owned[schema] === who) continue;
      await q(`REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${ident(who)}`);
      await q(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${ident(who)}`);
      await q(`REVOKE ALL ON SCHEMA ${schema} FROM ${ident(who)}`);
    }
  }
  if (r.api) {
    const a = ident(r.api);
    await q(`GRANT USAGE ON SCHEMA ${app} TO ${a}`);
    await q(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${app} TO ${a}`);
    await q(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${app} TO ${a}`);
    // The audit log: append and read only. The migrations' record: read only (the API checks none is pending).
    await q(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${app}.audit_log FROM ${a}`);
    await q(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${app}.schema_migrations FROM ${a}`);
  }
  // Readers of the oracle's ledger (the API) and of the index (the API, the query service):
  // SELECT on what exists now, and on what their owners create later (default privileges).
  const readers = (schema: string, schemaOwner: string | undefined, who: (string | undefined)[]) => async () => {
    for (const w of who.filter(Boolean)) {
      await q(`GRANT USAGE ON SCHEMA ${schema} TO ${ident(w!)}`);
      await q(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${ident(w!)}`);
      await q(`ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(schemaOwner ?? owner)} IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${ident(w!)}`);
    }
  };
  await readers(oracle, r.oracle, [r.api])();
  await readers(index, r.indexer, [r.api, r.query])();
}
