import { constants, privateDecrypt, publicEncrypt, type KeyObject, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The simulator's RSA key pair and X.509 certificate (committed under certs/, dev
 * only). A client builds SecurityCredential exactly as for Safaricom:
 * base64(RSA PKCS#1 v1.5 encrypt(initiator password)) with the certificate.
 *
 * Trap: Node 20.11+ refuses `privateDecrypt` with RSA_PKCS1_PADDING (Marvin attack
 * mitigation, CVE-2023-46809) unless started with --security-revert. The simulator
 * instead does a raw RSA operation (RSA_NO_PADDING) and strips the PKCS#1 v1.5 type-2
 * padding itself. Its timing leaks are irrelevant for a local test double; never
 * copy this into production code.
 */
export class Credentials {
  readonly certificatePem: string;
  private readonly key: KeyObject;

  constructor(certFile: string, keyFile: string) {
    this.certificatePem = readFileSync(certFile, 'utf8');
    this.key = createPrivateKey(readFileSync(keyFile, 'utf8'));
  }

  /** The plaintext inside a SecurityCredential, or undefined when it is not one of ours. */
  decrypt(securityCredential: string): string | undefined {
    const cipher = Buffer.from(securityCredential, 'base64');
    const size = (this.key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8;
    if (cipher.length !== size) return undefined;
    let block: Buffer;
    try {
      block = privateDecrypt({ key: this.key, padding: constants.RSA_NO_PADDING }, cipher);
    } catch {
      return undefined; // e.g. ciphertext not below the modulus
    }
    return unpadPkcs1Type2(block);
  }

  /** What a client does with the certificate (tests and the README example use it). */
  encrypt(password: string): string {
    return encryptSecurityCredential(password, this.certificatePem);
  }
}

/** base64(RSA PKCS#1 v1.5 encrypt(password)) with an X.509 certificate, as Daraja expects. */
export function encryptSecurityCredential(password: string, certificatePem: string): string {
  return publicEncrypt({ key: certificatePem, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(password, 'utf8')).toString('base64');
}

/** EM = 0x00 || 0x02 || PS (≥ 8 non-zero bytes) || 0x00 || M  (RFC 8017 §7.2.2). */
function unpadPkcs1Type2(block: Buffer): string | undefined {
  if (block[0] !== 0x00 || block[1] !== 0x02) return undefined;
  const sep = block.indexOf(0x00, 2);
  if (sep < 10) return undefined;
  return block.subarray(sep + 1).toString('utf8');
}
