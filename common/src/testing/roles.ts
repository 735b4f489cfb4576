import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { withDatabase } from '../db';
import { asRole, setupDatabase, type ServiceRole } from '../roles';
import { testServerUrl } from './database';

export interface TestRoles {
  /** Each service's own connection URL, as db:setup made its role. */
  urls: Record<ServiceRole, string>;
  owner: string;
  /** Drop the roles (after the database that uses them is dropped). */
  drop(): Promise<void>;
}

/**
 * The production set-up on a test database: db:setup's roles (roles are per server, so
 * their names are unique to this run), the API's migrations applied as the owner role.
 * Test rigs connect each service with its own URL, as compose and npm start do.
 */
export async function createTestRoles(databaseUrl: string, appMigrations: string, schemas?: { app?: string; oracle?: string; index?: string }): Promise<TestRoles> {
  const tag = `t${randomBytes(4).toString('hex')}`;
  const owner = `${tag}_owner`;
  const urls = Object.fromEntries((['api', 'oracle', 'indexer', 'query'] as const).map((s) => [s, asRole(databaseUrl, `${tag}_${s}`, randomBytes(12).toString('hex'))])) as Record<ServiceRole, string>;
  await setupDatabase({ adminUrl: databaseUrl, services: urls, ownerRole: owner, schemas, appMigrations });
  return {
    urls,
    owner,
    async drop() {
      const admin = new Pool({ connectionString: withDatabase(testServerUrl(), 'postgres'), max: 1 });
      try {
        for (const r of [...(['api', 'oracle', 'indexer', 'query'] as const).map((s) => `${tag}_${s}`), owner]) await admin.query(`DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
      } finally {
        await admin.end();
      }
    },
  };
}
