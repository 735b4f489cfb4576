/** The append-only audit log of admin decisions (app.audit_log; a trigger refuses changes). */
import type { PrismaClient } from '../generated/prisma/client';

export interface AuditRecord { actor: string; action: string; subject: string; details: Record<string, unknown> }

export async function audit(prisma: Pick<PrismaClient, 'auditEntry'>, r: AuditRecord): Promise<void> {
  await prisma.auditEntry.create({ data: { actor: r.actor, action: r.action, subject: r.subject, details: JSON.stringify(r.details) } });
}
