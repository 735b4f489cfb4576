/**
 * Private documents in the content store: AES-256-GCM before they are stored, so the CID
 * names ciphertext and nothing readable leaves the API, even on a public IPFS node.
 * node:crypto's AEAD does the work; the key comes from configuration through HKDF.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { ContentStore } from './contentStore';

const MAGIC = Buffer.from('DSEAL1');

export class SealedStore {
  private readonly key: Buffer;
  constructor(private readonly store: ContentStore, secret: string, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'descrow-sealed-store', purpose, 32));
  }

  async put(plain: Uint8Array, filename: string): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return this.store.put(Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]), `${filename}.sealed`);
  }

  /** The plaintext, or null when the CID is unknown or was not sealed with this key. */
  async get(cid: string): Promise<Buffer | null> {
    const raw = await this.store.get(cid);
    if (!raw) return null;
    const buf = Buffer.from(raw);
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    const iv = buf.subarray(MAGIC.length, MAGIC.length + 12);
    const tag = buf.subarray(MAGIC.length + 12, MAGIC.length + 28);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, iv);
      d.setAuthTag(tag);
      return Buffer.concat([d.update(buf.subarray(MAGIC.length + 28)), d.final()]);
    } catch {
      return null;
    }
  }
}
