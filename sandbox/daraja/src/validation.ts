import { z } from 'zod';
import { parseDarajaTimestamp } from './time';

/**
 * Request bodies as Daraja checks them (docs/daraja.md §2-§5). Field order is check order:
 * the first failing field names the "Bad Request - Invalid <Field>" error. Daraja
 * accepts numeric fields as JSON numbers or digit strings; so does the simulator.
 */
const digitString = (re: RegExp) => z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(re));

export const shortcode = digitString(/^\d{5,7}$/);
export const msisdn = digitString(/^254(7|1)\d{8}$/);

/** Whole KES, at least 1. Decimals ("1.5", 1.5) are "Invalid Amount" in practice. */
export const amount = z
  .union([z.number(), z.string().regex(/^\s*\d+\s*$/).transform(Number)])
  .pipe(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER));

export const timestamp = digitString(/^\d{14}$/).refine((v) => parseDarajaTimestamp(v) !== undefined);

/** Words Daraja refuses anywhere in a callback URL, in any letter case. */
export const BANNED_URL_WORDS = ['mpesa', 'm-pesa', 'safaricom', 'exe', 'exec', 'cmd', 'sql', 'query'];

export const callbackUrl = z.string().refine((v) => {
  if (/\s/.test(v)) return false; // stray spaces give "Invalid CallBackURL"
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false; // http allowed: it is local
  const lower = v.toLowerCase();
  return !BANNED_URL_WORDS.some((w) => lower.includes(w));
});

const text = (min: number, max: number) => z.string().min(min).max(max);

export const stkPushSchema = z.object({
  BusinessShortCode: shortcode,
  Password: z.string().min(1),
  Timestamp: timestamp,
  TransactionType: z.enum(['CustomerPayBillOnline', 'CustomerBuyGoodsOnline']),
  Amount: amount,
  PartyA: msisdn,
  PartyB: shortcode,
  PhoneNumber: msisdn,
  CallBackURL: callbackUrl,
  AccountReference: text(1, 12),
  TransactionDesc: text(0, 13).optional(),
});
export type StkPushRequest = z.infer<typeof stkPushSchema>;

export const stkQuerySchema = z.object({
  BusinessShortCode: shortcode,
  Password: z.string().min(1),
  Timestamp: timestamp,
  CheckoutRequestID: z.string().min(1),
});

export const b2cSchema = z.object({
  OriginatorConversationID: text(1, 128),
  InitiatorName: text(1, 64),
  SecurityCredential: z.string().min(1),
  CommandID: z.enum(['BusinessPayment', 'SalaryPayment', 'PromotionPayment']),
  Amount: amount,
  PartyA: shortcode,
  PartyB: msisdn,
  Remarks: text(2, 100),
  QueueTimeOutURL: callbackUrl,
  ResultURL: callbackUrl,
  Occassion: text(0, 100).optional(),
  Occasion: text(0, 100).optional(), // clients often send this spelling; harmless
});
export type B2cRequest = z.infer<typeof b2cSchema>;

export const transactionStatusSchema = z
  .object({
    Initiator: text(1, 64),
    SecurityCredential: z.string().min(1),
    CommandID: z.literal('TransactionStatusQuery'),
    TransactionID: z.string().max(40).optional(),
    OriginalConversationID: z.string().max(128).optional(),
    PartyA: shortcode,
    IdentifierType: digitString(/^(1|2|4|11)$/),
    ResultURL: callbackUrl,
    QueueTimeOutURL: callbackUrl,
    Remarks: text(1, 100),
    Occasion: text(0, 100).optional(),
  })
  // One of the two keys is required: query by receipt or by OriginatorConversationID.
  .refine((b) => Boolean(b.TransactionID || b.OriginalConversationID), { path: ['TransactionID'] });
export type TransactionStatusRequest = z.infer<typeof transactionStatusSchema>;

/** "YYYY-MM-DD HH:mm:ss", East Africa Time, as the transaction pull takes its window. */
export const pullDate = z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/).refine((v) => !Number.isNaN(Date.parse(`${v.replace(' ', 'T')}+03:00`)));

export const pullRegisterSchema = z.object({
  ShortCode: shortcode,
  RequestType: z.literal('Pull'),
  NominatedNumber: msisdn,
  CallBackURL: callbackUrl,
});

export const pullQuerySchema = z.object({
  ShortCode: shortcode,
  StartDate: pullDate,
  EndDate: pullDate,
  OffSetValue: digitString(/^\d{1,9}$/),
});
export type PullQueryRequest = z.infer<typeof pullQuerySchema>;

/** C2B Register URL (`/mpesa/c2b/v1|v2/registerurl`): where Pay Bill payments to the shortcode are announced. */
export const c2bRegisterSchema = z.object({
  ShortCode: shortcode,
  ResponseType: z.enum(['Completed', 'Cancelled']),
  ConfirmationURL: callbackUrl,
  ValidationURL: callbackUrl.optional(),
});
export type C2bRegisterRequest = z.infer<typeof c2bRegisterSchema>;
