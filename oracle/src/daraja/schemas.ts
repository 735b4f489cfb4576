/**
 * Daraja's shapes, validated with zod. Numeric fields arrive as numbers or strings
 * depending on the endpoint (docs/daraja.md §0): `num` accepts both and normalises to a
 * string code, in this one place.
 */
import { z } from 'zod';

/** A result/response code as Daraja sends it (0, "0", "1032", "R000002") → "0", "1032", … */
export const code = z.union([z.number(), z.string()]).transform((v) => String(v).trim());
const num = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = Number(v);
  if (!Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `not a number: ${v}` });
    return z.NEVER;
  }
  return n;
});

export const errorEnvelope = z.object({ requestId: z.string().optional(), errorCode: z.string(), errorMessage: z.string() });
export type DarajaErrorEnvelope = z.infer<typeof errorEnvelope>;

export const tokenResponse = z.object({ access_token: z.string().min(1), expires_in: num });

export const stkPushAck = z.object({
  MerchantRequestID: z.string(),
  CheckoutRequestID: z.string().min(1),
  ResponseCode: code,
  ResponseDescription: z.string(),
  CustomerMessage: z.string().optional(),
});

export const stkQueryResult = z.object({
  ResponseCode: code,
  ResponseDescription: z.string().optional(),
  MerchantRequestID: z.string().optional(),
  CheckoutRequestID: z.string(),
  ResultCode: code,
  ResultDesc: z.string(),
});

const item = z.object({ Name: z.string(), Value: z.union([z.number(), z.string()]).optional() });

export const stkCallback = z.object({
  Body: z.object({
    stkCallback: z.object({
      MerchantRequestID: z.string(),
      CheckoutRequestID: z.string().min(1),
      ResultCode: code,
      ResultDesc: z.string(),
      CallbackMetadata: z.object({ Item: z.array(item) }).optional(),
    }),
  }),
});
export type StkCallback = z.infer<typeof stkCallback>;

/** The paid fields of a successful STK callback, read by name (never by position). */
export function stkPaidFields(cb: StkCallback): { amount: number; receipt: string; phone: string; transactionDate?: string } | null {
  const items = cb.Body.stkCallback.CallbackMetadata?.Item ?? [];
  const get = (name: string) => items.find((i) => i.Name === name)?.Value;
  const amount = Number(get('Amount'));
  const receipt = get('MpesaReceiptNumber');
  const phone = get('PhoneNumber');
  if (!Number.isFinite(amount) || typeof receipt !== 'string' || receipt === '' || phone === undefined) return null;
  const date = get('TransactionDate');
  return { amount, receipt: receipt.toUpperCase(), phone: String(phone), transactionDate: date === undefined ? undefined : String(date) };
}

export const asyncAck = z.object({
  ConversationID: z.string(),
  OriginatorConversationID: z.string(),
  ResponseCode: code,
  ResponseDescription: z.string(),
});

const kv = z.object({ Key: z.string(), Value: z.union([z.number(), z.string()]).optional() });
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[]);

export const resultCallback = z.object({
  Result: z.object({
    ResultType: code.optional(),
    ResultCode: code,
    ResultDesc: z.string(),
    OriginatorConversationID: z.string(),
    ConversationID: z.string().optional(),
    TransactionID: z.string().optional(),
    ResultParameters: z.object({ ResultParameter: oneOrMany(kv) }).optional(),
    ReferenceData: z.unknown().optional(),
  }),
});
export type ResultCallback = z.infer<typeof resultCallback>;

/** A queue-timeout notice: either a Result envelope or an echo of our request (docs/daraja.md §4). */
export const timeoutNotice = z.union([
  resultCallback.transform((r) => ({ originatorConversationId: r.Result.OriginatorConversationID })),
  z.object({ OriginatorConversationID: z.string() }).passthrough().transform((r) => ({ originatorConversationId: r.OriginatorConversationID })),
]);

export function resultParam(r: ResultCallback, key: string): string | number | undefined {
  const params = r.Result.ResultParameters?.ResultParameter ?? [];
  return params.find((p) => p.Key === key || p.Key.replace(/\s/g, '') === key)?.Value;
}

/** One payment the paybill received, as Daraja's transaction pull lists it. */
export const pulledTransaction = z.object({
  transactionId: z.string().min(1),
  trxDate: z.string(),
  msisdn: z.union([z.number(), z.string()]).transform(String).optional(),
  transactiontype: z.string().optional(),
  billreference: z.string().default(''),
  amount: num,
});
export type PulledTransaction = z.infer<typeof pulledTransaction>;

/** The transaction pull's answer: `Response` is a list holding one page (a list) of transactions. */
export const pullQueryResult = z.object({
  ResponseCode: code,
  ResponseMessage: z.string().optional(),
  Response: z.array(z.union([z.array(pulledTransaction), pulledTransaction])).default([]),
}).transform((r) => ({ code: r.ResponseCode, transactions: r.Response.flat() }));
