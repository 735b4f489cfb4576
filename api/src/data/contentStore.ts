/**
 * Content-addressed storage for evidence and order metadata. CIDs are real IPFS CIDv1:
 * raw codec (0x55), sha2-256 multihash, base32 multibase ("bafkrei…"), exactly what
 * `ipfs add --cid-version=1 --raw-leaves` gives for a single-block file. The local
 * backend keeps files under EVIDENCE_STORE/<cid>; the IPFS backend posts to a Kubo HTTP API.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** CIDv1 (raw, sha2-256) of the bytes, base32-encoded with the `b` multibase prefix. */
export function rawCidV1(bytes: Uint8Array): string {
  const digest = createHash('sha256').update(bytes).digest();
  return `b${base32(Uint8Array.from([0x01, 0x55, 0x12, 0x20, ...digest]))}`;
}

export interface ContentStore {
  put(bytes: Uint8Array, filename: string): Promise<string>;
  get(cid: string): Promise<Uint8Array | null>;
}

export class LocalContentStore implements ContentStore {
  constructor(private readonly dir: string) {}
  async put(bytes: Uint8Array): Promise<string> {
    const cid = rawCidV1(bytes);
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${cid}.${process.pid}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(this.dir, cid));
    return cid;
  }
  async get(cid: string): Promise<Uint8Array | null> {
    if (!/^b[a-z2-7]+$/.test(cid)) return null;
    return readFile(join(this.dir, cid)).catch(() => null);
  }
}

/** Kubo's HTTP RPC: /api/v0/add and /api/v0/cat. */
export class IpfsContentStore implements ContentStore {
  constructor(private readonly apiUrl: string, private readonly timeoutMs = 15_000) {}
  async put(bytes: Uint8Array, filename: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)]), filename);
    const url = `${this.apiUrl.replace(/\/$/, '')}/api/v0/add?cid-version=1&raw-leaves=true&pin=true`;
    const res = await fetch(url, { method: 'POST', body: form, signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`IPFS add answered ${res.status}`);
    const body = (await res.json()) as { Hash?: string };
    if (!body.Hash) throw new Error('IPFS add returned no Hash');
    return body.Hash;
  }
  async get(cid: string): Promise<Uint8Array | null> {
    const res = await fetch(`${this.apiUrl.replace(/\/$/, '')}/api/v0/cat?arg=${encodeURIComponent(cid)}`, { method: 'POST', signal: AbortSignal.timeout(this.timeoutMs) });
    return res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
  }
}
