/**
 * docker-compose's `indexer-dictionary`: the logs dictionary the runner serves its own node
 * (indexer/scripts/dictionary.ts: SubQuery's dictionary protocol answered from the RPC's
 * eth_getLogs), as a service of its own for compose's node, so the deployed index skips
 * blocks without escrow events as `npm start` and the tests do. The manifest step names it as
 * the network's dictionary (./compose-indexer-manifest.ts). Waits for the deployer's file
 * like the manifest step when no contract address is configured.
 * Usage: node scripts/compose-indexer-dictionary.js (compiled; tsx for the source).
 */
import { z } from 'zod';
import { env, loadConfigOrExit } from '@descrow/common';
import { startLogsDictionary } from '../indexer/scripts/dictionary';
import { indexerEnvShape, resolveTarget, waitForDeployment } from '../indexer/scripts/run';

export const composeDictionaryEnvShape = {
  ...indexerEnvShape,
  INDEXER_DICTIONARY_PORT: env.port(3100),
  /** 0.0.0.0 in compose (the node asks from its own container); loopback elsewhere. */
  INDEXER_DICTIONARY_HOST: z.string().min(1).default('127.0.0.1'),
};

async function main() {
  const config = loadConfigOrExit(composeDictionaryEnvShape);
  const say = (line: string) => console.log(`indexer-dictionary: ${line}`);
  await waitForDeployment(config, say);
  const target = await resolveTarget(config);
  const dictionary = await startLogsDictionary({
    rpcUrl: target.rpcUrl,
    chainId: target.chainId,
    startBlock: target.startBlock,
    maxLogRange: config.INDEXER_DICTIONARY_LOG_RANGE,
    port: config.INDEXER_DICTIONARY_PORT,
    host: config.INDEXER_DICTIONARY_HOST,
  });
  say(`${target.contractAddress} on chain ${target.chainId} from block ${target.startBlock}: serving on ${config.INDEXER_DICTIONARY_HOST}:${config.INDEXER_DICTIONARY_PORT}`);
  const stop = () => void dictionary.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) main().catch((err: Error) => {
  console.error(`indexer-dictionary: ${err.message}`);
  process.exit(1);
});
