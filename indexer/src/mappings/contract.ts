/**
 * One thin handler per contract-wide event (roles, fee, windows, pause, withdrawals):
 * kept as OrderEvent rows so every log of the contract is in the index.
 */
import type { EthereumLog } from '@subql/types-ethereum';
import { decodeEvent } from './abi';
import { argList } from './decode';
import { recordContractEvent } from './write';

const record = (kind: string) => (log: EthereumLog) => recordContractEvent(log, kind, argList(kind, decodeEvent(kind, log.topics, log.data)));

export const handleOwnerChanged = record('OwnerChanged');
export const handleOracleChanged = record('OracleChanged');
export const handleArbiterChanged = record('ArbiterChanged');
export const handleTreasuryChanged = record('TreasuryChanged');
export const handleFeeChanged = record('FeeChanged');
export const handleWindowsChanged = record('WindowsChanged');
export const handlePaused = record('Paused');
export const handleUnpaused = record('Unpaused');
export const handleWithdrawn = record('Withdrawn');
export const handleFeesWithdrawn = record('FeesWithdrawn');
