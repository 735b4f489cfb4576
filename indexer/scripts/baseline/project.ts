/**
 * Writes the yardstick project (./handlers.ts) for one run, next to the real ones:
 * the same schema and target, one log handler per event routed by topic.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { escrowAbi } from '../../../contracts/generated/escrow';
import type { IndexerTarget } from '../../../project';
import { manifestFor, ROOT } from '../prepare';

export async function writeBaselineProject(target: IndexerTarget, name: string): Promise<string> {
  const dir = resolve(ROOT, 'indexer/dist/runs', name);
  mkdirSync(dir, { recursive: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [resolve(__dirname, 'handlers.ts')],
    outfile: join(dir, 'index.js'),
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error',
  });
  const manifest = JSON.parse(manifestFor(target, dir, './index.js').replace(/^#.*\n/, '')) as {
    dataSources: { mapping: { handlers: unknown[] } }[];
  };
  const events = escrowAbi.filter((i) => i.type === 'event');
  for (const ds of manifest.dataSources) {
    ds.mapping.handlers = events.map((e) => ({
      kind: 'ethereum/LogHandler',
      handler: `handle${e.name}`,
      filter: { topics: [`${e.name}(${e.inputs.map((i) => i.type).join(',')})`] },
    }));
  }
  const file = join(dir, 'project.yaml');
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return file;
}
