/**
 * docker-compose's `indexer-manifest` step: write the SubQuery manifest for this
 * deployment into a shared volume for SubQuery's published node image, with the files it
 * references (bundle, schema, ABI) at the same relative paths. Waits for the deployer's
 * file when no contract address is configured. Usage: tsx scripts/compose-indexer-manifest.ts /project
 */
import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfigOrExit } from '@descrow/common';
import { indexerEnvShape, resolveTarget } from '../indexer/scripts/run';
import { ROOT, writeRunProject } from '../indexer/scripts/prepare';
import { ensureExtensions } from '../indexer/scripts/node';

async function main() {
  const out = resolve(process.argv[2] ?? '/project');
  const config = loadConfigOrExit(indexerEnvShape);
  const file = resolve(ROOT, config.DEPLOYMENT_FILE);
  for (let waited = 0; !config.INDEXER_CONTRACT_ADDRESS && !existsSync(file); waited += 1) {
    if (waited === 0) console.log(`indexer-manifest: waiting for ${file} (the deployer writes it)`);
    if (waited > 300) throw new Error(`${file} did not appear within 5 minutes`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const target = await resolveTarget(config);
  if (config.DATABASE_URL) await ensureExtensions(config.DATABASE_URL);
  for (const rel of ['indexer/dist', 'schema.graphql', 'contracts/artifacts']) {
    cpSync(join(ROOT, rel), join(out, rel), { recursive: true });
  }
  // Paths in the manifest are relative to its folder, so they hold inside the volume too.
  const manifest = writeRunProject(target, 'compose', out);
  console.log(`indexer-manifest: ${target.contractAddress} on chain ${target.chainId} from block ${target.startBlock} → ${manifest}`);
}

main().catch((err: Error) => {
  console.error(`indexer-manifest: ${err.message}`);
  process.exit(1);
});
