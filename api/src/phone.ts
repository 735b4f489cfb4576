/** Kenyan mobile numbers → 2547XXXXXXXX / 2541XXXXXXXX (what M-Pesa expects), or null. */
export function normaliseKenyanPhone(input: string): string | null {
  const digits = input.replace(/[\s\-()]/g, '');
  const m = /^(?:\+?254|0)?([71]\d{8})$/.exec(digits);
  return m ? `254${m[1]}` : null;
}
