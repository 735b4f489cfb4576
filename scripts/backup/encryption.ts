/**
 * Backups hold phones, delivery addresses and receipts. Optionally the dump is encrypted to
 * one or more operators' age public keys (`age1…`) with typage (the `age-encryption`
 * package, age's own TypeScript implementation): only the holder of a matching identity
 * file (`AGE-SECRET-KEY-1…`, e.g. from `age-keygen`) can restore it. Streams, so a dump of
 * any size never sits in memory. Every file written here is 0600.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebStream } from 'node:stream/web';

/** typage is an ES module: loaded when a backup is encrypted or decrypted (the rest of backup/restore stays plain CommonJS). */
const age = () => import('age-encryption');

/** The name the decrypted dump gets in restore's private temporary folder. */
export const DUMP_FILE_NAME_PLAIN = 'descrow.dump';

/** Only the owner reads or writes a backup file. */
export const FILE_MODE = 0o600;
/** Only the owner enters a backup folder. */
export const DIR_MODE = 0o700;

const fileStream = (path: string) => Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
const toFile = (stream: ReadableStream<Uint8Array>, path: string) =>
  pipeline(Readable.fromWeb(stream as unknown as WebStream<Uint8Array>), createWriteStream(path, { mode: FILE_MODE, flags: 'wx' }));

/** Encrypt `src` into `dst` (0600) for every recipient; an invalid recipient is named. */
export async function encryptFile(src: string, dst: string, recipients: readonly string[]): Promise<void> {
  const e = new (await age()).Encrypter();
  for (const r of recipients) {
    try {
      e.addRecipient(r);
    } catch (err) {
      throw new Error(`${r} is not an age recipient (expected a public key like age1…): ${(err as Error).message}`);
    }
  }
  await toFile(await e.encrypt(fileStream(src)), dst);
}

/** The identities in an age identity file (comments and blank lines skipped). */
export function readIdentities(file: string): string[] {
  const ids = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!ids.length || ids.some((l) => !/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(l))) {
    throw new Error(`${file} is not an age identity file (one AGE-SECRET-KEY-1… per line, as age-keygen writes it)`);
  }
  return ids;
}

/** Decrypt `src` into `dst` (0600) with the identity file's keys; a key that does not match is said plainly. */
export async function decryptFile(src: string, dst: string, identityFile: string): Promise<void> {
  const d = new (await age()).Decrypter();
  for (const id of readIdentities(identityFile)) d.addIdentity(id);
  try {
    await toFile(await d.decrypt(fileStream(src)), dst);
  } catch (err) {
    const m = (err as Error).message;
    throw new Error(/no identity matched/i.test(m) ? `the identity in ${identityFile} cannot open this backup: it was encrypted to another key` : `decrypting ${src} failed: ${m}`);
  }
}
