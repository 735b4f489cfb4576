/** zod shapes shared by the resolvers; `parse` turns a failure into BAD_USER_INPUT. */
import { z } from 'zod';
import { fromZod } from './errors';
import { normaliseKenyanPhone } from './phone';

export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) fromZod(r.error);
  return r.data as z.infer<T>;
}

export const address = z.string().trim().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte hex address').transform((s) => s.toLowerCase());
export const bytes32 = z.string().trim().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 0x-prefixed 32-byte hex id').transform((s) => s.toLowerCase());
export const uuid = z.string().uuid('expected a product id (uuid)');
export const phone = z.string().transform((v, ctx) => {
  const n = normaliseKenyanPhone(v);
  if (!n) {
    ctx.addIssue({ code: 'custom', message: 'expected a Kenyan mobile number (07…, 01…, +2547…, 2541…)' });
    return z.NEVER;
  }
  return n;
});
export const positiveBigint = z
  .string()
  .regex(/^\d{1,78}$/, 'expected a positive integer as a decimal string')
  .transform((s) => BigInt(s))
  .refine((v) => v > 0n, 'must be greater than zero');
export const kes = z.number().int('M-Pesa takes whole shillings').min(1).max(250_000);
export const date = z.coerce.date();
