/**
 * `npm run db:setup`: the database roles (common/src/roles.ts), run as the server's admin
 * role (DATABASE_URL) before the services start — compose's `db-setup` service, and
 * `npm start` in-process. Each service's role and password are those of its own URL:
 * API_DATABASE_URL, ORACLE_DATABASE_URL, INDEXER_DATABASE_URL, QUERY_DATABASE_URL.
 * Idempotent: run it again after changing a password, after a restore, or after an upgrade
 * (it applies the API's migrations as the owner role). docs/operations.md, Database roles.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { env, loadConfigOrExit, setupDatabase } from '@descrow/common';

export const dbSetupEnvShape = {
  /** The admin connection: a superuser (compose: postgres), or a role that may create roles and schemas. */
  DATABASE_URL: env.url(),
  API_DATABASE_URL: env.url(),
  ORACLE_DATABASE_URL: env.url(),
  INDEXER_DATABASE_URL: env.url(),
  QUERY_DATABASE_URL: env.url(),
  /** The role (no login) that owns the API's schema and runs its migrations. */
  DB_OWNER_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('descrow_owner'),
  INDEXER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('descrow_index'),
};

async function main(): Promise<void> {
  const c = loadConfigOrExit(dbSetupEnvShape);
  const r = await setupDatabase({
    adminUrl: c.DATABASE_URL,
    services: { api: c.API_DATABASE_URL, oracle: c.ORACLE_DATABASE_URL, indexer: c.INDEXER_DATABASE_URL, query: c.QUERY_DATABASE_URL },
    ownerRole: c.DB_OWNER_ROLE,
    schemas: { index: c.INDEXER_DB_SCHEMA },
    appMigrations: resolve(__dirname, '../api/migrations'),
  });
  process.stdout.write(
    `database roles ready: ${Object.entries(r.roles).map(([role, what]) => `${role} (${what})`).join(', ')}\n` +
      `  app migrations applied now: ${r.applied.length ? r.applied.join(', ') : 'none (all applied before)'}\n`,
  );
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`db:setup failed: ${err.message}\n`);
    process.exit(1);
  });
}
