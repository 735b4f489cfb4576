/**
 * Generates the Prisma client into api/src/generated/prisma (gitignored) when it is
 * missing or older than schema.prisma. Offline: PRISMA_SCHEMA_ENGINE_BINARY=/bin/false
 * stops the CLI from downloading an engine it does not need for `generate`.
 * Run by the root `pretypecheck`/`preapi` scripts and by the API tests.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const API = resolve(__dirname, '..');
const SCHEMA = resolve(API, 'prisma/schema.prisma');
const OUT = resolve(API, 'src/generated/prisma');
const STAMP = resolve(OUT, '.schema-sha256');

export function ensurePrismaClient(): boolean {
  const hash = createHash('sha256').update(readFileSync(SCHEMA)).digest('hex');
  if (existsSync(resolve(OUT, 'client.ts')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) return false;
  const cli = require.resolve('prisma/build/index.js');
  execFileSync(process.execPath, [cli, 'generate', '--schema', SCHEMA], {
    cwd: API,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(STAMP, hash);
  return true;
}

if (require.main === module) ensurePrismaClient();
