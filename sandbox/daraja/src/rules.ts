import { z } from 'zod';

/**
 * Outcome rules: which ResultCode a simulated transaction ends with, and how its
 * callback is delivered. First matching rule wins; then the built-in magic numbers;
 * then success (subject to the ledger: limits and balances still apply).
 */
export type Product = 'stk' | 'b2c';
export type ResultCode = number | string;

/** STK ResultCodes and their typical ResultDesc (docs/daraja.md §2). */
export const STK_RESULTS: ReadonlyMap<ResultCode, string> = new Map<ResultCode, string>([
  [0, 'The service request is processed successfully.'],
  [1, 'The balance is insufficient for the transaction.'],
  [2, 'Declined due to limit rule: less than the minimum transaction amount.'],
  [3, 'Declined due to limit rule: greater than the maximum transaction amount.'],
  [4, 'Declined due to limit rule: would exceed daily transfer limit.'],
  [8, 'Declined due to limit rule: would exceed the maximum balance.'],
  [17, 'Rule limited.'],
  [26, 'System busy. The service request is rejected.'],
  [1001, 'Unable to lock subscriber, a transaction is already in process for the current subscriber'],
  [1019, 'Transaction has expired.'],
  [1025, 'An error occurred while sending a push request'],
  [9999, 'An error occurred while sending a push request'],
  [1032, 'Request cancelled by user'],
  [1037, 'DS timeout user cannot be reached'],
  [2001, 'The initiator information is invalid.'],
  [2028, 'The request is not permitted according to product assignment.'],
  [8006, 'The security credential is locked.'],
  ['SFC_IC0003', 'The operator does not exist.'],
]);

/** B2C ResultCodes (docs/daraja.md §4). */
export const B2C_RESULTS: ReadonlyMap<ResultCode, string> = new Map<ResultCode, string>([
  [0, 'The service request is processed successfully.'],
  [1, 'The balance is insufficient for the transaction.'],
  [2, 'Declined due to limit rule: less than the minimum transaction amount.'],
  [3, 'Declined due to limit rule: greater than the maximum transaction amount.'],
  [4, 'Declined due to limit rule: would exceed daily transfer limit.'],
  [8, 'Declined due to limit rule: would exceed the maximum balance.'],
  [11, 'The DebitParty is in an invalid state.'],
  [2006, 'The debit party is inactive.'],
  [17, 'Rule limited.'],
  [21, 'The initiator is not allowed to initiate this request.'],
  [2001, 'The initiator information is invalid.'],
  [2028, 'The request is not permitted according to product assignment.'],
  [2040, "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service."],
  [8006, 'The security credential is locked.'],
  ['SFC_IC0003', 'The MSISDN does not exist.'],
]);

export const resultsFor = (product: Product) => (product === 'stk' ? STK_RESULTS : B2C_RESULTS);

/** Readable names for the outcomes tests use most. */
export const OUTCOME_ALIASES: Record<Product, Record<string, ResultCode>> = {
  stk: { success: 0, insufficient_funds: 1, cancelled: 1032, unreachable: 1037, wrong_pin: 2001, expired: 1019 },
  b2c: { success: 0, insufficient_funds: 1, invalid_initiator: 2001, not_registered: 2040 },
};

export const deliveryModes = [
  'normal', // callback as soon as the transaction resolves
  'delayed', // callback delayMs after it resolves (STK Query already knows)
  'never', // resolved, but no callback is ever sent
  'duplicated', // the same callback `copies` times
  'before_response', // resolved and called back before the synchronous answer is sent
  'queue_timeout', // B2C: only a QueueTimeOutURL notification; the payment never happens
  'timeout_then_result', // B2C: QueueTimeOutURL notification first, then the real result
  'failure_then_success', // B2C: a failure result first (money moved all the same), the real success delayMs later
] as const;
export type DeliveryMode = (typeof deliveryModes)[number];

export const deliverySchema = z.object({
  mode: z.enum(deliveryModes),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  copies: z.number().int().min(1).max(10).optional(),
});
export type Delivery = z.infer<typeof deliverySchema>;

const knownCode = (code: ResultCode) => STK_RESULTS.has(code) || B2C_RESULTS.has(code);
const allAliases = new Set([...Object.keys(OUTCOME_ALIASES.stk), ...Object.keys(OUTCOME_ALIASES.b2c), 'pending']);

/** An outcome: an alias ("cancelled"), a ResultCode (1032 or "1032" or "SFC_IC0003"), or "pending" (hold until the control API resolves it). */
export const outcomeSchema = z.union([z.number().int(), z.string()]).refine(
  (v) => (typeof v === 'string' && allAliases.has(v)) || knownCode(normaliseCode(v)),
  { message: 'unknown outcome: use an alias (success, cancelled, ...), "pending" or a documented ResultCode' },
);
export type Outcome = z.infer<typeof outcomeSchema>;

export const ruleSchema = z
  .object({
    product: z.enum(['stk', 'b2c']).optional(),
    phone: z.string().regex(/^254\d{9}$/).optional(),
    amount: z.number().int().optional(),
    minAmount: z.number().int().optional(),
    maxAmount: z.number().int().optional(),
    outcome: outcomeSchema.optional(),
    delivery: deliverySchema.optional(),
    /** STK only: the query reports a failure although the callback said success (the sandbox does this). */
    queryDisagrees: z.boolean().optional(),
  })
  .strict();
export type Rule = z.infer<typeof ruleSchema>;

/** "1032" → 1032; codes like "SFC_IC0003" stay strings. */
export function normaliseCode(v: ResultCode): ResultCode {
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
}

/** Alias or code → a ResultCode valid for `product`, or 'pending'; undefined if it does not apply. */
export function resolveOutcome(product: Product, outcome: Outcome): ResultCode | 'pending' | undefined {
  if (outcome === 'pending') return 'pending';
  if (typeof outcome === 'string' && outcome in OUTCOME_ALIASES[product]) return OUTCOME_ALIASES[product][outcome];
  const code = normaliseCode(outcome);
  return resultsFor(product).has(code) ? code : undefined;
}

export interface Decision {
  outcome: ResultCode | 'pending';
  delivery?: Delivery;
  queryDisagrees?: boolean;
  /** Which rule decided: an index into the rule list, 'magic' or 'default'. */
  source: number | 'magic' | 'default';
}

/**
 * Built-in magic numbers: 2547 0000 CCCC ends with the ResultCode CCCC, e.g.
 * 254700001032 → cancelled, 254700000001 → insufficient funds, 254700002040 → B2C
 * recipient not registered. Any other phone succeeds.
 */
export function magicOutcome(product: Product, phone: string): ResultCode | undefined {
  const m = /^25470000(\d{4})$/.exec(phone);
  if (!m) return undefined;
  const code = Number(m[1]);
  return code !== 0 && resultsFor(product).has(code) ? code : undefined;
}

export function decide(rules: readonly Rule[], product: Product, phone: string, amount: number): Decision {
  for (const [i, rule] of rules.entries()) {
    if (rule.product && rule.product !== product) continue;
    if (rule.phone && rule.phone !== phone) continue;
    if (rule.amount !== undefined && rule.amount !== amount) continue;
    if (rule.minAmount !== undefined && amount < rule.minAmount) continue;
    if (rule.maxAmount !== undefined && amount > rule.maxAmount) continue;
    const outcome = rule.outcome === undefined ? 0 : resolveOutcome(product, rule.outcome);
    if (outcome === undefined) continue; // e.g. "cancelled" in a rule without product, seen by B2C
    return { outcome, delivery: rule.delivery, queryDisagrees: rule.queryDisagrees, source: i };
  }
  const magic = magicOutcome(product, phone);
  if (magic !== undefined) return { outcome: magic, source: 'magic' };
  return { outcome: 0, source: 'default' };
}
