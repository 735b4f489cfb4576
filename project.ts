/**
 * The SubQuery project manifest of the Descrow index (`@subql/node-ethereum`).
 *
 * Paths are relative to the repository root. The contract address, start block, chain id
 * and RPC come from the environment, which `indexer/scripts/run.ts` fills from the dev
 * chain's deployment file (or INDEXER_CONTRACT_ADDRESS / INDEXER_START_BLOCK / CHAIN_ID);
 * the runner turns this file into `indexer/project.yaml` for the node.
 */
import {
  EthereumDatasourceKind,
  EthereumHandlerKind,
  type EthereumProject,
  type SubqlRuntimeHandler,
} from '@subql/types-ethereum';

/**
 * One block handler: it picks the contract's logs out of each block and handles them
 * together (indexer/src/mappings/block.ts). SubQuery's per-event handlers would cost one
 * sandbox call per log, more than handling the log itself (docs/benchmarks.md).
 */
export function blockHandlers(): SubqlRuntimeHandler[] {
  return [{ kind: EthereumHandlerKind.Block, handler: 'handleBlock' }];
}

export interface IndexerTarget {
  /** Decimal chain id. */
  chainId: string;
  rpcUrl: string;
  contractAddress: string;
  startBlock: number;
}

/** The target from the environment (the runner sets these from the deployment file). */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): IndexerTarget {
  return {
    chainId: env.CHAIN_ID ?? '31337',
    rpcUrl: env.RPC_URL ?? 'http://127.0.0.1:8545',
    contractAddress: env.INDEXER_CONTRACT_ADDRESS ?? '0x0000000000000000000000000000000000000000',
    startBlock: Number(env.INDEXER_START_BLOCK ?? 1),
  };
}

export function buildProject(target: IndexerTarget): EthereumProject {
  return {
    specVersion: '1.0.0',
    version: '0.1.0',
    name: 'descrow-indexer',
    description: 'Descrow escrow orders, events and explorer entities from the Escrow contract',
    runner: {
      node: {
        name: '@subql/node-ethereum',
        version: '>=6.5.0',
        // Historical state and unfinalized blocks: reorgs are rewound, and @subql/query
        // answers blockHeight time-travel queries.
        options: { historical: true, unfinalizedBlocks: true },
      },
      query: { name: '@subql/query', version: '*' },
    },
    schema: { file: './schema.graphql' },
    network: {
      // SubQuery wants the decimal chain id as a string.
      chainId: target.chainId,
      endpoint: [target.rpcUrl],
    },
    dataSources: [
      {
        kind: EthereumDatasourceKind.Runtime,
        startBlock: target.startBlock,
        // No `abi` on purpose: the handler decodes logs itself (indexer/src/mappings/abi.ts),
        // because the node would re-read and re-parse the ABI for every log. The address
        // documents the target; the handler reads it from the project's .env.
        options: { address: target.contractAddress },
        mapping: {
          file: './indexer/dist/index.js',
          handlers: blockHandlers(),
        },
      },
    ],
  };
}

export default buildProject(targetFromEnv());
