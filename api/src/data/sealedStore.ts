/**
 * Private documents in the content store (KYC files, tracking details, dispute statements
 * and evidence): AES-256-GCM before they are stored, so the CID names ciphertext and
 * nothing readable leaves the API, even on a public IPFS node. node:crypto's AEAD does the
 * work; each key comes from a keyring entry through HKDF, one derived key per purpose.
 *
 * A sealed document names the key that sealed it (`DSEAL2`, key id in the header, which is
 * authenticated), so keys rotate without losing documents: the first key of the ring seals,
 * every key opens what it sealed. Documents written before key ids (`DSEAL1`) are tried
 * against every key of the ring.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { ContentStore } from './contentStore';

const LEGACY = Buffer.from('DSEAL1');
const MAGIC = Buffer.from('DSEAL2');
const IV = 12;
const TAG = 16;

/** One key of the ring: its id (stored in every document it seals) and its secret material. */
export interface RingKey { id: string; key: string }

/** The first key seals; all of them open. `legacyOnly` keys open old DSEAL1 documents only. */
export interface Keyring { keys: RingKey[]; legacyOnly?: string[] }

/** Ids are short and plain: they are written into every sealed document. */
export const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;

/** `id1:key1,id2:key2` → the ring (first = current). Throws a message naming the bad entry. */
export function parseKeyring(entries: readonly string[]): RingKey[] {
  const ring = entries.map((e, i) => {
    const at = e.indexOf(':');
    const id = at > 0 ? e.slice(0, at) : '';
    const key = at > 0 ? e.slice(at + 1) : '';
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1} must be <id>:<key> with an id of letters, digits, ".", "_" or "-" (at most 32)`);
    if (key.length < 32) throw new Error(`key "${id}" is too short (${key.length} characters; at least 32)`);
    return { id, key };
  });
  const seen = new Set<string>();
  for (const k of ring) {
    if (seen.has(k.id)) throw new Error(`key id "${k.id}" appears twice`);
    seen.add(k.id);
  }
  return ring;
}

const derive = (secret: string, purpose: string) => Buffer.from(hkdfSync('sha256', secret, 'descrow-sealed-store', purpose, 32));

export class SealedStore {
  private readonly current: { id: string; key: Buffer };
  private readonly byId: Map<string, Buffer>;
  private readonly legacy: Buffer[];

  constructor(private readonly store: ContentStore, ring: Keyring, purpose: string) {
    if (!ring.keys.length) throw new Error('the sealing keyring is empty');
    this.byId = new Map(ring.keys.map((k) => [k.id, derive(k.key, purpose)]));
    this.current = { id: ring.keys[0]!.id, key: this.byId.get(ring.keys[0]!.id)! };
    this.legacy = [...ring.keys.map((k) => k.key), ...(ring.legacyOnly ?? [])].map((k) => derive(k, purpose));
  }

  /** The id of the key new documents are sealed with. */
  get keyId(): string {
    return this.current.id;
  }

  async put(plain: Uint8Array, filename: string): Promise<string> {
    const header = Buffer.concat([MAGIC, Buffer.from([this.current.id.length]), Buffer.from(this.current.id, 'latin1')]);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(header); // the key id cannot be swapped without failing the tag
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return this.store.put(Buffer.concat([header, iv, cipher.getAuthTag(), body]), `${filename}.sealed`);
  }

  /** The plaintext, or null when the CID is unknown, not sealed, or sealed with a key not in the ring. */
  async get(cid: string): Promise<Buffer | null> {
    const raw = await this.store.get(cid);
    return raw ? this.open(Buffer.from(raw)) : null;
  }

  /** Whether these bytes are a sealed document (of either format). */
  static isSealed(bytes: Uint8Array): boolean {
    const head = Buffer.from(bytes.subarray(0, MAGIC.length));
    return head.equals(MAGIC) || head.equals(LEGACY);
  }

  /** The id of the key that sealed this document (null: not sealed, or sealed before key ids). */
  static keyIdOf(sealed: Uint8Array): string | null {
    const buf = Buffer.from(sealed);
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    return buf.subarray(MAGIC.length + 1, MAGIC.length + 1 + buf[MAGIC.length]!).toString('latin1');
  }

  open(buf: Buffer): Buffer | null {
    if (buf.subarray(0, MAGIC.length).equals(MAGIC)) {
      const idLength = buf[MAGIC.length] ?? 0;
      const headerEnd = MAGIC.length + 1 + idLength;
      const key = this.byId.get(buf.subarray(MAGIC.length + 1, headerEnd).toString('latin1'));
      return key ? decrypt(key, buf.subarray(0, headerEnd), buf.subarray(headerEnd)) : null;
    }
    if (buf.subarray(0, LEGACY.length).equals(LEGACY)) {
      for (const key of this.legacy) {
        const plain = decrypt(key, null, buf.subarray(LEGACY.length));
        if (plain) return plain;
      }
    }
    return null;
  }
}

function decrypt(key: Buffer, aad: Buffer | null, rest: Buffer): Buffer | null {
  try {
    const d = createDecipheriv('aes-256-gcm', key, rest.subarray(0, IV), { authTagLength: TAG });
    if (aad) d.setAAD(aad);
    d.setAuthTag(rest.subarray(IV, IV + TAG));
    return Buffer.concat([d.update(rest.subarray(IV + TAG)), d.final()]);
  } catch {
    return null;
  }
}
