/**
 * docker-compose's `indexer-manifest` step: write the SubQuery manifest for this
 * deployment into a shared volume for the node, with the files it references (bundle,
 * schema, ABI) at the same relative paths, and compose's logs dictionary
 * (`indexer-dictionary`, ./compose-indexer-dictionary.ts) as the network's dictionary unless
 * INDEXER_DICTIONARY=off. Waits for the deployer's file when no contract address is
 * configured. Usage: tsx scripts/compose-indexer-manifest.ts /project
 */
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '@descrow/common';
import { indexerEnvShape, resolveTarget, waitForDeployment } from '../indexer/scripts/run';
import { ROOT, writeRunProject } from '../indexer/scripts/prepare';
import { ensureExtensions } from '../indexer/scripts/node';

/** The runner's settings, plus where compose serves the logs dictionary. */
export const composeManifestEnvShape = {
  ...indexerEnvShape,
  /** compose's `indexer-dictionary` service, written into the manifest when INDEXER_DICTIONARY=logs. */
  INDEXER_DICTIONARY_URL: z.string().url().optional(),
};

async function main() {
  const out = resolve(process.argv[2] ?? '/project');
  const config = loadConfigOrExit(composeManifestEnvShape);
  await waitForDeployment(config, (line) => console.log(`indexer-manifest: ${line}`));
  const resolved = await resolveTarget(config);
  const dictionary = config.INDEXER_DICTIONARY === 'logs' && config.INDEXER_DICTIONARY_URL ? [config.INDEXER_DICTIONARY_URL] : undefined;
  const target = dictionary ? { ...resolved, dictionary } : resolved;
  if (config.DATABASE_URL) await ensureExtensions(config.DATABASE_URL);
  for (const rel of ['indexer/dist', 'schema.graphql', 'contracts/artifacts']) {
    cpSync(join(ROOT, rel), join(out, rel), { recursive: true });
  }
  // Paths in the manifest are relative to its folder, so they hold inside the volume too.
  const manifest = writeRunProject(target, 'compose', out);
  console.log(`indexer-manifest: ${target.contractAddress} on chain ${target.chainId} from block ${target.startBlock}${dictionary ? `, dictionary ${dictionary[0]}` : ', no dictionary'} → ${manifest}`);
}

if (require.main === module) main().catch((err: Error) => {
  console.error(`indexer-manifest: ${err.message}`);
  process.exit(1);
});
