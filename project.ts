/**
 * The SubQuery project manifest of the Descrow index (`@subql/node-ethereum`).
 *
 * Paths are relative to the repository root. The contract address, start block, chain id
 * and RPC come from the environment, which `indexer/scripts/run.ts` fills from the dev
 * chain's deployment file (or INDEXER_CONTRACT_ADDRESS / INDEXER_START_BLOCK / CHAIN_ID);
 * the runner turns this file into `indexer/project.yaml` for the node.
 */
import { escrowAbi } from './contracts/generated/escrow';
import {
  EthereumDatasourceKind,
  EthereumHandlerKind,
  type EthereumProject,
  type SubqlRuntimeHandler,
} from '@subql/types-ethereum';

/** `Name(type,…)` of every event in the contract's ABI: what SubQuery's topic filters take. */
export function eventSignatures(): string[] {
  return escrowAbi
    .filter((i) => i.type === 'event')
    .map((e) => `${e.name}(${e.inputs.map((i) => i.type).join(',')})`);
}

/**
 * One log handler per event of the contract, filtered by topic (and by the data source's
 * address): the node only hands us the contract's logs, and blocks without one need not be
 * handled at all — with a dictionary (network.dictionary) they are not even fetched. All
 * point at `handleLog`, which handles a block's logs together on the first of them
 * (indexer/src/mappings/block.ts).
 */
export function logHandlers(): SubqlRuntimeHandler[] {
  return eventSignatures().map((signature) => ({
    kind: EthereumHandlerKind.Event,
    handler: 'handleLog',
    filter: { topics: [signature] },
  }));
}

export interface IndexerTarget {
  /** Decimal chain id. */
  chainId: string;
  rpcUrl: string;
  contractAddress: string;
  startBlock: number;
  /**
   * SubQuery dictionary endpoints (dictionary v2 protocol) the node asks which blocks hold
   * the contract's logs, so it fetches only those (indexer/scripts/dictionary.ts serves one
   * from the RPC's eth_getLogs). None: every block is fetched.
   */
  dictionary?: string[];
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
      ...(target.dictionary?.length ? { dictionary: target.dictionary } : {}),
    },
    dataSources: [
      {
        kind: EthereumDatasourceKind.Runtime,
        startBlock: target.startBlock,
        // The address filters the logs (and the dictionary's queries); the handler reads it
        // from the project's .env too. The ABI lets the node decode each log (`log.args`);
        // the handler decodes the few fields it needs itself (indexer/src/mappings/abi.ts),
        // because reading ethers' Result objects through the sandbox bridge costs more.
        options: { abi: 'Escrow', address: target.contractAddress },
        // The ABI alone (indexer/scripts/prepare.ts writes it from the contract's build): the node
        // reads this file again for every log it decodes.
        assets: new Map([['Escrow', { file: './indexer/dist/Escrow.abi.json' }]]),
        mapping: {
          file: './indexer/dist/index.js',
          handlers: logHandlers(),
        },
      },
    ],
  };
}

export default buildProject(targetFromEnv());
