/**
 * Writes the yardstick project (./handlers.ts) for one run, next to the real ones:
 * the same schema and target, one log handler per event routed by topic.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { escrowAbi } from '../../../contracts/generated/escrow';
import type { IndexerTarget } from '../../../project';
import { manifestJson, manifestText, ROOT } from '../prepare';

const BUNDLE = resolve(ROOT, 'indexer/dist/baseline.js');
let built: Promise<unknown> | undefined;

export async function writeBaselineProject(target: IndexerTarget, name: string): Promise<string> {
  // Bundled once per process, copied into each run's folder (the sandbox loads code only from there).
  built ??= import('esbuild').then((esbuild) => esbuild.build({
    entryPoints: [resolve(__dirname, 'handlers.ts')],
    outfile: BUNDLE,
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error',
  }));
  await built;
  const dir = resolve(ROOT, 'indexer/dist/runs', name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(BUNDLE, join(dir, 'index.js'));
  const manifest = manifestJson(target, dir, './index.js');
  const events = escrowAbi.filter((i) => i.type === 'event');
  for (const ds of manifest.dataSources) {
    ds.mapping.handlers = events.map((e) => ({
      kind: 'ethereum/LogHandler',
      handler: `handle${e.name}`,
      filter: { topics: [`${e.name}(${e.inputs.map((i) => i.type).join(',')})`] },
    }));
  }
  const file = join(dir, 'project.yaml');
  writeFileSync(file, manifestText(manifest));
  return file;
}
