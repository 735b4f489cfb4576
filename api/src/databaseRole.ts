/**
 * Before the API serves: its migrations must be applied (by db:setup as the owner, or here
 * when its role may), and outside development its role must not be able to rewrite the
 * audit log — a superuser, or a member of the log's owner, could disable its triggers and
 * empty it (issue 25). docs/operations.md, Database roles.
 */
import type { Pool } from 'pg';
import { ConfigError, isDevelopment, migrate, modeReason, pendingMigrations, type ModeInputs } from '@descrow/common';

export async function prepareDatabase(pool: Pool, migrationsDir: string): Promise<string[]> {
  const pending = await pendingMigrations(pool, 'app', migrationsDir);
  if (!pending.length) return [];
  try {
    return (await migrate(pool, 'app', migrationsDir)).applied;
  } catch (err) {
    throw new Error(`app migrations ${pending.join(', ')} are not applied and this role cannot apply them (${(err as Error).message}): run npm run db:setup as the database admin (docs/operations.md, Database roles)`);
  }
}

/** Throws a ConfigError naming DATABASE_URL when, outside development, its role could change the audit log. */
export async function refuseAuditLogOwner(pool: Pool, mode: ModeInputs): Promise<void> {
  if (isDevelopment(mode)) return;
  const { rows } = await pool.query<{ who: string; sup: boolean; owns: boolean }>(
    `SELECT current_user AS who, r.rolsuper AS sup, pg_has_role(current_user, c.relowner, 'USAGE') AS owns
       FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'app.audit_log'::regclass`,
  );
  const me = rows[0]!;
  if (me.sup || me.owns) {
    throw new ConfigError('DATABASE_URL', `connects as "${me.who}", which ${me.sup ? 'is a superuser' : 'owns app.audit_log'} and could rewrite or empty the audit log: connect the API as its own role (npm run db:setup; docs/operations.md, Database roles)`, `Unsafe configuration (${modeReason(mode)}): `);
  }
}
