/**
 * Wallet login, EIP-4361 style: the API writes a message naming domain, address, nonce,
 * issue and expiry times; the wallet signs it (personal_sign); the API verifies the
 * signature with viem and consumes the nonce exactly once.
 */
import { randomBytes } from 'node:crypto';
import { getAddress, verifyMessage, type Hex } from 'viem';

export interface ChallengeFields { domain: string; uri: string; chainId: number; address: string; nonce: string; issuedAt: Date; expiresAt: Date }

export const newNonce = (): string => randomBytes(12).toString('hex');

export function challengeMessage(f: ChallengeFields): string {
  return [
    `${f.domain} wants you to sign in with your Ethereum account:`,
    getAddress(f.address),
    '',
    'Sign in to Descrow. This request will not trigger a blockchain transaction or cost any fees.',
    '',
    `URI: ${f.uri}`,
    'Version: 1',
    `Chain ID: ${f.chainId}`,
    `Nonce: ${f.nonce}`,
    `Issued At: ${f.issuedAt.toISOString()}`,
    `Expiration Time: ${f.expiresAt.toISOString()}`,
  ].join('\n');
}

export async function signatureMatches(address: string, message: string, signature: string): Promise<boolean> {
  if (!/^0x[0-9a-fA-F]+$/.test(signature)) return false;
  try {
    return await verifyMessage({ address: getAddress(address), message, signature: signature as Hex });
  } catch {
    return false;
  }
}
