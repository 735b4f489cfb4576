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
import { escrowAbi } from './contracts/index';

/** Every event of the Escrow ABI gets its own handler `handle<EventName>`, filtered by topic signature. */
export const escrowEvents = escrowAbi
  .filter((item) => item.type === 'event')
  .map((item) => ({
    name: item.name,
    signature: `${item.name}(${item.inputs.map((i) => i.type).join(',')})`,
  }));

export function eventHandlers(): SubqlRuntimeHandler[] {
  return escrowEvents.map((e) => ({
    kind: EthereumHandlerKind.Event,
    handler: `handle${e.name}`,
    filter: { topics: [e.signature] },
  }));
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
        // No `abi` on purpose: the handlers decode logs themselves (indexer/src/mappings/abi.ts),
        // because the node would re-read and re-parse the ABI for every log. Each handler
        // still receives only its own event, selected by topic signature.
        options: { address: target.contractAddress },
        mapping: {
          file: './indexer/dist/index.js',
          handlers: eventHandlers(),
        },
      },
    ],
  };
}

export default buildProject(targetFromEnv());
