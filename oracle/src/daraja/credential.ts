import { constants, publicEncrypt, X509Certificate } from 'node:crypto';

/**
 * B2C/Transaction Status SecurityCredential: base64(RSA PKCS#1 v1.5 encrypt(initiator
 * password)) with Safaricom's certificate. Not OAEP — that gives ResultCode 2001.
 */
export function securityCredential(initiatorPassword: string, certificatePem: string): string {
  const key = new X509Certificate(certificatePem).publicKey;
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(initiatorPassword, 'utf8')).toString('base64');
}
