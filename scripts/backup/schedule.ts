/**
 * Backups on a schedule, for compose's `backup` profile (or any supervisor without cron): a
 * backup (./backup.ts) now and every BACKUP_INTERVAL_SECONDS, then backups in BACKUP_DIR
 * older than BACKUP_KEEP_DAYS are deleted. A failed backup is reported in one line and
 * tried again at the next interval. docs/operations.md, Backups.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { env, loadConfigOrExit } from '@descrow/common';

const say = (line: string) => process.stdout.write(`backup-schedule: ${line}\n`);

/** Backups (`descrow-*` directories with a manifest) in `dir` older than `days`, oldest first. */
export function expiredBackups(dir: string, days: number, now = Date.now()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith('descrow-') && existsSync(join(dir, name, 'manifest.json')))
    .map((name) => ({ path: join(dir, name), at: statSync(join(dir, name, 'manifest.json')).mtimeMs }))
    .filter((b) => now - b.at > days * 86_400_000)
    .sort((a, b) => a.at - b.at)
    .map((b) => b.path);
}

/** One backup, as `npm run backup` takes it (the compiled script in the image, the TypeScript one here). */
function backupOnce(): Promise<number> {
  const script = join(__dirname, `backup${extname(__filename)}`);
  const args = extname(__filename) === '.ts' ? ['--import', 'tsx', script] : [script];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main() {
  const config = loadConfigOrExit({
    BACKUP_DIR: z.string().min(1).default('backups'),
    BACKUP_INTERVAL_SECONDS: env.int(3600, 60),
    BACKUP_KEEP_DAYS: env.int(7, 1),
  });
  say(`a backup now and every ${config.BACKUP_INTERVAL_SECONDS} s into ${config.BACKUP_DIR}, kept ${config.BACKUP_KEEP_DAYS} days`);
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  for (;;) {
    const code = await backupOnce();
    if (code !== 0) say(`the backup failed (exit code ${code}); the next attempt is in ${config.BACKUP_INTERVAL_SECONDS} s`);
    for (const old of expiredBackups(config.BACKUP_DIR, config.BACKUP_KEEP_DAYS)) {
      rmSync(old, { recursive: true, force: true });
      say(`deleted ${old} (older than ${config.BACKUP_KEEP_DAYS} days)`);
    }
    await new Promise((r) => (timer = setTimeout(r, config.BACKUP_INTERVAL_SECONDS * 1000)));
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    say(err.message);
    process.exit(1);
  });
}
