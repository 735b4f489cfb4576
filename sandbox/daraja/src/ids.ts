import { randomBytes, randomInt } from 'node:crypto';
import { eatParts } from './time';

/**
 * Identifiers in the shapes Daraja issues today (docs/daraja.md §0). Clients must treat
 * them as opaque; the simulator reproduces them so logs and fixtures look real.
 */
const hex = (chars: number) => randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars);
const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');

/** `f1e2-4b95-a71d-b30d3cdbb7a7942864`: MerchantRequestID, error requestId, generated OriginatorConversationID. */
export function requestId(): string {
  return `${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}${digits(6)}`;
}

/** `ws_CO_` + DDMMYYYYHHmmss + 3-digit ms + the 9-digit subscriber number (EAT). */
export function checkoutRequestId(ms: number, msisdn: string): string {
  const p = eatParts(ms);
  return `ws_CO_${pad(p.day)}${pad(p.month)}${p.year}${pad(p.hour)}${pad(p.minute)}${pad(p.second)}${pad(p.millis, 3)}${msisdn.slice(-9)}`;
}

/** `AG_YYYYMMDD_` + 20 hex characters. */
export function conversationId(ms: number): string {
  const p = eatParts(ms);
  return `AG_${p.year}${pad(p.month)}${pad(p.day)}_${hex(20)}`;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DAY_CHARS = '123456789ABCDEFGHIJKLMNOPQRSTUV'; // 1..9 then A=10 .. V=31

/**
 * Receipt prefix as seen in public samples: year letter (L=2017, S=2024, T=2025),
 * month letter (A=Jan), day character. Realistic fixtures only, never validation.
 */
export function receiptPrefix(ms: number): string {
  const p = eatParts(ms);
  const year = String.fromCharCode('L'.charCodeAt(0) + (p.year - 2017));
  const month = String.fromCharCode('A'.charCodeAt(0) + p.month - 1);
  return `${year}${month}${DAY_CHARS[p.day - 1]}`;
}

/** 10 uppercase alphanumerics: MpesaReceiptNumber / TransactionID / TransactionReceipt. */
export function receipt(ms: number): string {
  let tail = '';
  for (let i = 0; i < 7; i++) tail += ALNUM[randomInt(ALNUM.length)];
  return receiptPrefix(ms) + tail;
}

/** The placeholder TransactionID a failed B2C result carries, e.g. `NLJ0000000`. */
export function placeholderReceipt(ms: number): string {
  return `${receiptPrefix(ms)}0000000`;
}

/** 28 alphanumerics, like `c9SQxWWhmdVRlyh0zh8gZDTkubVF`. */
export function accessToken(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 28; i++) out += chars[randomInt(chars.length)];
  return out;
}
