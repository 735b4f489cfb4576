import { createHash } from 'node:crypto';

/** Kenyan MSISDN as Daraja wants it: 2547XXXXXXXX or 2541XXXXXXXX. */
export const MSISDN = /^254(7|1)\d{8}$/;

/** Normalise 07…, 01…, +254…, 254… (with spaces or dashes) to 2547…/2541…; null if not Kenyan mobile. */
export function normalisePhone(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '').replace(/^\+/, '');
  let n = digits;
  if (/^0(7|1)\d{8}$/.test(digits)) n = `254${digits.slice(1)}`;
  else if (/^(7|1)\d{8}$/.test(digits)) n = `254${digits}`;
  return MSISDN.test(n) ? n : null;
}

/**
 * Whether the payer Daraja reports is `phone`. The transaction pull gives the number plain
 * (a number or a string, with or without 254); C2B callbacks give it masked
 * (`2547 ***** 149`: every visible digit must agree) or as its SHA-256 hex. A payer not
 * reported is not a match.
 */
export function payerIs(reported: string | number | null | undefined, phone: string): boolean {
  if (reported === null || reported === undefined) return false;
  const text = String(reported).replace(/[\s-]/g, '');
  if (/^[0-9a-f]{64}$/i.test(text)) return createHash('sha256').update(phone).digest('hex') === text.toLowerCase();
  if (text.includes('*')) {
    const pattern = new RegExp(`^${text.replace(/^\+/, '').split(/\*+/).map((part) => part.replace(/\D/g, '')).join('\\d+')}$`);
    return /\d{3}/.test(text) && pattern.test(phone);
  }
  return normalisePhone(text) === phone;
}
