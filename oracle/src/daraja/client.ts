/**
 * Typed Daraja client (axios): OAuth, STK Push, STK Query, B2C v3, Transaction Status.
 * Every response is validated with zod; failures become a classified DarajaError.
 * An invalid-token answer refreshes the shared token once and retries once.
 */
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import type Redis from 'ioredis';
import { inSpan, SpanKind, trace, traceHeaders, type Logger } from '@descrow/common';
import { classifyEnvelope, DarajaError } from './errors';
import { asyncAck, errorEnvelope, pullQueryResult, stkPushAck, stkQueryResult, tokenResponse } from './schemas';
import { darajaTimestamp, stkPassword } from './time';
import { SharedTokenCache } from './token';
import type { z } from 'zod';

export interface DarajaSettings {
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  shortcode: string;
  passkey: string;
  b2cShortcode: string;
  initiatorName: string;
  /** Encrypted initiator password (see credential.ts). */
  securityCredential: string;
  timeoutMs: number;
}

export interface StkPushInput { amount: number; phone: string; callbackUrl: string; accountReference: string; description: string }
export interface B2cInput { originatorConversationId: string; amount: number; phone: string; remarks: string; resultUrl: string; timeoutUrl: string; occasion?: string }
export interface StatusInput { originatorConversationId?: string; transactionId?: string; resultUrl: string; timeoutUrl: string; remarks: string }

const tracer = trace.getTracer('descrow-oracle');

export class DarajaClient {
  private readonly http: AxiosInstance;
  readonly tokens: SharedTokenCache;
  /** Told the result of every Daraja call (`ok` or the DarajaError kind): the oracle's metrics. */
  observe?: (endpoint: string, result: string) => void;

  constructor(private readonly s: DarajaSettings, redis: Redis, private readonly log: Logger, private readonly now: () => Date = () => new Date()) {
    this.http = axios.create({ baseURL: s.baseUrl, timeout: s.timeoutMs, validateStatus: () => true, headers: { 'content-type': 'application/json' } });
    this.tokens = new SharedTokenCache(redis, { fetchToken: () => this.fetchToken() }, log, `${s.baseUrl}|${s.consumerKey}`);
  }

  async fetchToken(): Promise<{ token: string; expiresInSeconds: number }> {
    const basic = Buffer.from(`${this.s.consumerKey}:${this.s.consumerSecret}`).toString('base64');
    let res;
    try {
      res = await this.http.get('/oauth/v1/generate', { params: { grant_type: 'client_credentials' }, headers: { authorization: `Basic ${basic}` } });
    } catch (err) {
      throw this.networkError('oauth', err);
    }
    if (res.status !== 200) throw this.httpError('oauth', res.status, res.data);
    const body = this.parse(tokenResponse, res.data, 'oauth');
    return { token: body.access_token, expiresInSeconds: body.expires_in };
  }

  stkPush(input: StkPushInput) {
    const timestamp = darajaTimestamp(this.now());
    return this.post('/mpesa/stkpush/v1/processrequest', 'stk push', stkPushAck, {
      BusinessShortCode: this.s.shortcode,
      Password: stkPassword(this.s.shortcode, this.s.passkey, timestamp),
      Timestamp: timestamp,
      TransactionType: 'CustomerPayBillOnline',
      Amount: input.amount,
      PartyA: input.phone,
      PartyB: this.s.shortcode,
      PhoneNumber: input.phone,
      CallBackURL: input.callbackUrl,
      AccountReference: input.accountReference.slice(0, 12),
      TransactionDesc: input.description.slice(0, 13),
    });
  }

  stkQuery(checkoutRequestId: string) {
    const timestamp = darajaTimestamp(this.now());
    return this.post('/mpesa/stkpushquery/v1/query', 'stk query', stkQueryResult, {
      BusinessShortCode: this.s.shortcode,
      Password: stkPassword(this.s.shortcode, this.s.passkey, timestamp),
      Timestamp: timestamp,
      CheckoutRequestID: checkoutRequestId,
    });
  }

  b2c(input: B2cInput) {
    return this.post('/mpesa/b2c/v3/paymentrequest', 'b2c', asyncAck, {
      OriginatorConversationID: input.originatorConversationId,
      InitiatorName: this.s.initiatorName,
      SecurityCredential: this.s.securityCredential,
      CommandID: 'BusinessPayment',
      Amount: input.amount,
      PartyA: this.s.b2cShortcode,
      PartyB: input.phone,
      Remarks: input.remarks.slice(0, 100),
      QueueTimeOutURL: input.timeoutUrl,
      ResultURL: input.resultUrl,
      Occassion: (input.occasion ?? '').slice(0, 100),
    });
  }

  transactionStatus(input: StatusInput) {
    return this.post('/mpesa/transactionstatus/v1/query', 'transaction status', asyncAck, {
      Initiator: this.s.initiatorName,
      SecurityCredential: this.s.securityCredential,
      CommandID: 'TransactionStatusQuery',
      TransactionID: input.transactionId ?? '',
      OriginalConversationID: input.originatorConversationId ?? '',
      PartyA: this.s.b2cShortcode,
      IdentifierType: '4',
      ResultURL: input.resultUrl,
      QueueTimeOutURL: input.timeoutUrl,
      Remarks: input.remarks,
      Occasion: 'reconcile',
    });
  }

  /**
   * Transaction pull: payments the paybill received in a window (times in East Africa
   * Time, "YYYY-MM-DD HH:mm:ss"), 1,000 per page from `offset`.
   */
  pullTransactions(from: Date, to: Date, offset: number) {
    const eat = (d: Date) => new Date(d.getTime() + 3 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    return this.post('/pulltransactions/v1/query', 'transaction pull', pullQueryResult, {
      ShortCode: this.s.shortcode, StartDate: eat(from), EndDate: eat(to), OffSetValue: String(offset),
    });
  }

  /** One Daraja call in a client span whose `traceparent` travels with the request; its result is counted. */
  private post<T extends z.ZodType>(path: string, endpoint: string, schema: T, body: object): Promise<z.infer<T>> {
    const label = endpoint.replace(/\s+/g, '_');
    return inSpan(tracer, `daraja ${endpoint}`, { 'http.request.method': 'POST', 'url.path': path }, async (span) => {
      try {
        const out = await this.send(path, endpoint, schema, body, false);
        this.observe?.(label, 'ok');
        return out;
      } catch (err) {
        this.observe?.(label, err instanceof DarajaError ? err.kind : 'error');
        if (err instanceof DarajaError && err.httpStatus) span.setAttribute('http.response.status_code', err.httpStatus);
        throw err;
      }
    }, SpanKind.CLIENT);
  }

  private async send<T extends z.ZodType>(path: string, endpoint: string, schema: T, body: object, retried: boolean): Promise<z.infer<T>> {
    const token = await this.tokens.get();
    let res;
    try {
      res = await this.http.post(path, body, { headers: { authorization: `Bearer ${token}`, ...traceHeaders() } });
    } catch (err) {
      throw this.networkError(endpoint, err);
    }
    if (res.status === 200) return this.parse(schema, res.data, endpoint);
    const error = this.httpError(endpoint, res.status, res.data);
    if (error.kind === 'invalid_token' && !retried) {
      this.log.warn({ endpoint, errorCode: error.errorCode }, 'daraja refused our token; refreshing once');
      await this.tokens.invalidate(token);
      return this.send(path, endpoint, schema, body, true);
    }
    throw error;
  }

  private parse<T extends z.ZodType>(schema: T, data: unknown, endpoint: string): z.infer<T> {
    const parsed = schema.safeParse(data);
    // A 200 we cannot read: we do not know what happened.
    if (!parsed.success) throw new DarajaError('indeterminate', `${endpoint}: unexpected response shape: ${parsed.error.issues[0]?.message}`, 200);
    return parsed.data;
  }

  private httpError(endpoint: string, status: number, data: unknown): DarajaError {
    const env = errorEnvelope.safeParse(data);
    if (env.success) return classifyEnvelope(status, env.data, endpoint);
    const kind = status >= 500 || status === 429 ? 'indeterminate' : 'final';
    return new DarajaError(kind, `${endpoint}: HTTP ${status} without Daraja's error envelope`, status);
  }

  private networkError(endpoint: string, err: unknown): DarajaError {
    if (isAxiosError(err)) {
      // No response: connection refused is safe to retry; a timeout may have taken effect.
      const refused = err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN';
      return new DarajaError(refused ? 'retryable' : 'indeterminate', `${endpoint}: ${err.code ?? err.message}`);
    }
    return new DarajaError('indeterminate', `${endpoint}: ${(err as Error).message}`);
  }
}
