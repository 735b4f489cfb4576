/**
 * Uploaded files arrive base64-encoded in GraphQL inputs. Their type is taken from their
 * first bytes, not from what the client says, and must be one the operation allows.
 */
import { badInput } from './errors';

const SIGNATURES: { mime: string; test: (b: Buffer) => boolean }[] = [
  { mime: 'image/png', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { mime: 'image/jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { mime: 'image/webp', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
  { mime: 'image/gif', test: (b) => /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1')) },
  { mime: 'application/pdf', test: (b) => b.subarray(0, 5).toString('latin1') === '%PDF-' },
];

/** The file's bytes, checked: base64, not empty, at most `maxBytes`, of an allowed type matching its content. */
export function decodeUpload(contentBase64: string, declaredMime: string, allowed: readonly string[], maxBytes: number, field = 'contentBase64'): { bytes: Buffer; mime: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(contentBase64)) badInput('the file must be base64-encoded', field);
  if (Math.floor((contentBase64.length * 3) / 4) > maxBytes + 2) badInput(`the file is larger than ${maxBytes} bytes`, field);
  const bytes = Buffer.from(contentBase64, 'base64');
  if (bytes.length === 0) badInput('the file is empty', field);
  if (bytes.length > maxBytes) badInput(`the file is larger than ${maxBytes} bytes`, field);
  const mime = declaredMime.toLowerCase();
  if (!allowed.includes(mime)) badInput(`${mime} is not accepted here (accepted: ${allowed.join(', ')})`, 'mimeType');
  const actual = SIGNATURES.find((s) => s.test(bytes))?.mime;
  if (actual !== mime) badInput(`the file's content is ${actual ?? 'not a recognised type'}, not ${mime}`, field);
  return { bytes, mime };
}
