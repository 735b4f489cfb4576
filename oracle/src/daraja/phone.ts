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
