import { z } from 'zod';
import type { Logger } from '@descrow/common';
import { TokenStore } from './auth';
import { CallbackSender, type CallbackMessage } from './callbacks';
import type { DarajaSimConfig } from './config';
import { Credentials } from './credentials';
import { DarajaError, errors, FAULTS, type FaultCode } from './errors';
import * as ids from './ids';
import { customerAccount, Ledger, paybillAccount, utilityAccount } from './ledger';
import {
  B2C_RESULTS,
  decide,
  deliveryModes,
  deliverySchema,
  outcomeSchema,
  resolveOutcome,
  ruleSchema,
  STK_RESULTS,
  type Delivery,
  type Outcome,
  type Product,
  type ResultCode,
  type Rule,
} from './rules';
import { b2cDateTime, darajaTimestamp, type Clock } from './time';
import type { B2cRequest, C2bRegisterRequest, PullQueryRequest, StkPushRequest, TransactionStatusRequest } from './validation';

/** Daraja's documented limits (docs/daraja.md §2, §4, §7). */
export const LIMITS = { stkMax: 250_000, b2cMin: 10, b2cMax: 250_000, dailyMax: 500_000, balanceMax: 500_000 } as const;

export const settingsSchema = z
  .object({
    stkResolveMs: z.number().int().min(0),
    b2cResolveMs: z.number().int().min(0),
    delivery: z.object({ mode: z.enum(deliveryModes), delayMs: z.number().int().min(0).max(600_000), copies: z.number().int().min(2).max(10) }),
    queryDisagrees: z.boolean(),
    /** What STK Query reports for a paid push when it disagrees with the callback. */
    queryDisagreeCode: outcomeSchema,
    lockSubscriber: z.boolean(),
    singleToken: z.boolean(),
    /** B2C QueueTimeOutURL body: a Result envelope, or an echo of the original request (121-platform). */
    timeoutShape: z.enum(['result', 'echo']),
    /**
     * What Transaction Status answers for a B2C payment still queued at Safaricom:
     * `no_record` (R000002, as M-Pesa does before it has processed it) or `initiated`.
     */
    statusWhileQueued: z.enum(['no_record', 'initiated']),
    /** The ResultCode of the first, false result in `failure_then_success` delivery. */
    falseFailureCode: outcomeSchema,
    /** Ask the registered C2B ValidationURL before a Pay Bill payment (Safaricom enables this per shortcode on request). */
    c2bValidation: z.boolean(),
  })
  .strict();
export type SimSettings = z.infer<typeof settingsSchema>;
export const settingsPatchSchema = settingsSchema.partial().extend({ delivery: settingsSchema.shape.delivery.partial().optional() }).strict();

export interface StkTransaction {
  MerchantRequestID: string;
  CheckoutRequestID: string;
  BusinessShortCode: string;
  TransactionType: string;
  Amount: number;
  PartyA: string;
  PartyB: string;
  PhoneNumber: string;
  CallBackURL: string;
  AccountReference: string;
  TransactionDesc?: string;
  status: 'pending' | 'completed';
  createdAt: string;
  completedAt?: string;
  ResultCode?: ResultCode;
  ResultDesc?: string;
  MpesaReceiptNumber?: string;
  /** Outcome the rules chose at push time ('pending' = waits for the control API). */
  plannedOutcome: ResultCode | 'pending';
  decidedBy: number | 'magic' | 'default';
  delivery: Delivery;
  queryDisagrees: boolean;
}

export interface B2cTransaction {
  OriginatorConversationID: string;
  ConversationID: string;
  version: 'v1' | 'v3';
  InitiatorName: string;
  CommandID: string;
  Amount: number;
  PartyA: string;
  PartyB: string;
  Remarks: string;
  Occassion?: string;
  ResultURL: string;
  QueueTimeOutURL: string;
  credentialValid: boolean;
  status: 'pending' | 'completed' | 'expired';
  createdAt: string;
  completedAt?: string;
  ResultCode?: ResultCode;
  ResultDesc?: string;
  TransactionID?: string;
  plannedOutcome: ResultCode | 'pending';
  decidedBy: number | 'magic' | 'default';
  delivery: Delivery;
  /** The request body as received (minus the credential), for the echo-style timeout notification. */
  request: Record<string, unknown>;
}

/** A customer paying the Pay Bill from the M-Pesa menu (C2B): shortcode, account number, amount, PIN. */
export interface C2bTransaction {
  TransID: string;
  TransactionType: 'Pay Bill';
  BusinessShortCode: string;
  BillRefNumber: string;
  Amount: number;
  MSISDN: string;
  status: 'completed' | 'rejected';
  /** Who refused it: the validation URL's ResultCode, or M-Pesa's own (1: balance). */
  ResultCode?: string;
  createdAt: string;
}

export interface StatusQuery {
  OriginatorConversationID: string;
  ConversationID: string;
  request: TransactionStatusRequest;
  credentialValid: boolean;
  status: 'pending' | 'completed' | 'expired';
  createdAt: string;
  ResultCode?: ResultCode;
}

export interface ResolveOptions {
  outcome?: Outcome;
  delivery?: Delivery;
  queryDisagrees?: boolean;
}

const CUSTOMER_NAMES = ['JOHN DOE', 'JANE DOE', 'WANJIRU KAMAU', 'OTIENO ODHIAMBO', 'AMINA HASSAN', 'KIPCHOGE KORIR', 'ACHIENG OKOTH', 'MWANGI NJOROGE'];
const customerName = (msisdn: string) => `${msisdn} - ${CUSTOMER_NAMES[Number(msisdn.slice(-3)) % CUSTOMER_NAMES.length]}`;
const PENDING_QUERY = { ResponseDescription: 'The service request has been accepted successsfully' }; // sic: three s's, as Daraja spells it

/**
 * Everything the simulator knows and does: transactions, outcome rules, settings,
 * injected faults, the ledger and the callback sender. Routes are thin wrappers
 * around it; in-process tests may call it directly.
 */
export class DarajaSimState {
  readonly tokens: TokenStore;
  readonly credentials: Credentials;
  readonly callbacks: CallbackSender;
  ledger!: Ledger;
  settings!: SimSettings;
  rules: Rule[] = [];
  readonly stk = new Map<string, StkTransaction>();
  readonly b2c = new Map<string, B2cTransaction>();
  readonly statusQueries = new Map<string, StatusQuery>();
  readonly c2b = new Map<string, C2bTransaction>();
  readonly c2bRegistrations = new Map<string, C2bRegisterRequest>();
  private faults: { code: FaultCode; remaining: number; path?: string; until?: number }[] = [];
  private lastCheckoutMs = 0;

  constructor(
    readonly config: DarajaSimConfig,
    readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.tokens = new TokenStore(clock, config.DARAJA_SIM_TOKEN_TTL_SECONDS, config.MPESA_CONSUMER_KEY, config.MPESA_CONSUMER_SECRET, config.DARAJA_SIM_SINGLE_TOKEN);
    this.credentials = new Credentials(config.DARAJA_SIM_CERT_FILE, config.DARAJA_SIM_KEY_FILE);
    this.callbacks = new CallbackSender(logger, config.DARAJA_SIM_CALLBACK_TIMEOUT_MS);
    this.initialise();
  }

  private initialise() {
    const c = this.config;
    this.stk.clear();
    this.b2c.clear();
    this.statusQueries.clear();
    this.c2b.clear();
    this.c2bRegistrations.clear();
    this.pullRegistrations?.clear();
    this.faults = [];
    this.rules = [...c.DARAJA_SIM_RULES];
    this.settings = {
      stkResolveMs: c.DARAJA_SIM_STK_RESOLVE_MS,
      b2cResolveMs: c.DARAJA_SIM_B2C_RESOLVE_MS,
      delivery: { mode: c.DARAJA_SIM_CALLBACK_MODE, delayMs: c.DARAJA_SIM_CALLBACK_DELAY_MS, copies: 2 },
      queryDisagrees: false,
      queryDisagreeCode: 1032,
      lockSubscriber: c.DARAJA_SIM_LOCK_SUBSCRIBER,
      singleToken: c.DARAJA_SIM_SINGLE_TOKEN,
      timeoutShape: 'result',
      statusWhileQueued: 'initiated',
      falseFailureCode: 17,
      c2bValidation: false,
    };
    this.tokens.singleToken = this.settings.singleToken;
    this.ledger = new Ledger(this.clock, c.DARAJA_SIM_WALLET_BALANCE);
    this.ledger.open(paybillAccount(c.MPESA_SHORTCODE), c.DARAJA_SIM_PAYBILL_BALANCE);
    this.ledger.open(utilityAccount(c.MPESA_B2C_SHORTCODE), c.DARAJA_SIM_UTILITY_BALANCE);
  }

  /** Control API reset: transactions, ledger, rules, settings and faults back to start-up (tokens stay valid). */
  async reset(): Promise<void> {
    await this.callbacks.reset();
    this.initialise();
  }

  private nowIso() {
    return new Date(this.clock.now()).toISOString();
  }

  // ---- settings, rules, faults --------------------------------------------------

  updateSettings(patch: z.infer<typeof settingsPatchSchema>): SimSettings {
    const { delivery, ...rest } = patch;
    this.settings = { ...this.settings, ...rest, delivery: { ...this.settings.delivery, ...delivery } };
    this.tokens.singleToken = this.settings.singleToken;
    return this.settings;
  }

  setRules(rules: Rule[]): void {
    this.rules = rules.map((r) => ruleSchema.parse(r));
  }

  addRule(rule: Rule): void {
    this.rules.unshift(ruleSchema.parse(rule)); // newest first: a test's rule beats older ones
  }

  /**
   * The next `count` Daraja API calls (optionally only under `path`) fail with `code`; with
   * `forMs`, every matching call fails until that much time has passed (then it recovers).
   */
  injectFault(code: FaultCode, count: number, path?: string, forMs?: number): void {
    if (forMs !== undefined) this.faults.push({ code, remaining: Number.POSITIVE_INFINITY, path, until: this.clock.now() + forMs });
    else this.faults.push({ code, remaining: count, path });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Consumes one injected fault matching this request path, if any. */
  takeFault(path: string): DarajaError | undefined {
    const now = this.clock.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && (f.until === undefined || f.until > now));
    const fault = this.faults.find((f) => !f.path || path.startsWith(f.path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    return new DarajaError(500, fault.code, FAULTS[fault.code]);
  }

  pendingFaults() {
    const now = this.clock.now();
    return this.faults
      .filter((f) => f.until === undefined || f.until > now)
      .map(({ until, remaining, ...f }) => (until === undefined ? { ...f, remaining } : { ...f, untilMs: until - now }));
  }

  // ---- STK Push -------------------------------------------------------------------

  private stkPassword(shortcode: string, timestamp: string) {
    return Buffer.from(`${shortcode}${this.config.MPESA_PASSKEY}${timestamp}`).toString('base64');
  }

  private checkStkCredentials(shortcode: string, password: string, timestamp: string) {
    if (shortcode !== this.config.MPESA_SHORTCODE) throw errors.merchantMissing();
    if (password !== this.stkPassword(shortcode, timestamp)) throw errors.wrongCredentials();
  }

  async stkPush(req: StkPushRequest) {
    this.checkStkCredentials(req.BusinessShortCode, req.Password, req.Timestamp);
    if (this.settings.lockSubscriber && [...this.stk.values()].some((t) => t.status === 'pending' && t.PhoneNumber === req.PhoneNumber)) {
      throw errors.subscriberLocked();
    }
    const decision = decide(this.rules, 'stk', req.PhoneNumber, req.Amount);
    // CheckoutRequestID embeds milliseconds + phone: keep them strictly increasing so ids never collide.
    const ms = Math.max(this.clock.now(), this.lastCheckoutMs + 1);
    this.lastCheckoutMs = ms;
    const tx: StkTransaction = {
      MerchantRequestID: ids.requestId(),
      CheckoutRequestID: ids.checkoutRequestId(ms, req.PhoneNumber),
      BusinessShortCode: req.BusinessShortCode,
      TransactionType: req.TransactionType,
      Amount: req.Amount,
      PartyA: req.PartyA,
      PartyB: req.PartyB,
      PhoneNumber: req.PhoneNumber,
      CallBackURL: req.CallBackURL,
      AccountReference: req.AccountReference,
      TransactionDesc: req.TransactionDesc,
      status: 'pending',
      createdAt: this.nowIso(),
      plannedOutcome: decision.outcome,
      decidedBy: decision.source,
      delivery: decision.delivery ?? { mode: this.settings.delivery.mode },
      queryDisagrees: decision.queryDisagrees ?? this.settings.queryDisagrees,
    };
    this.stk.set(tx.CheckoutRequestID, tx);
    this.ledger.customer(req.PartyA);
    this.logger.info({ checkoutRequestId: tx.CheckoutRequestID, phone: tx.PhoneNumber, amount: tx.Amount, planned: tx.plannedOutcome, delivery: tx.delivery.mode }, 'stk push accepted');

    if (tx.delivery.mode === 'before_response') {
      // The callback races (and here beats) the synchronous answer, as it can for fast failures.
      await this.resolveStk(tx.CheckoutRequestID, {});
    } else if (tx.plannedOutcome !== 'pending' && this.settings.stkResolveMs > 0) {
      this.callbacks.later(this.settings.stkResolveMs, () => {
        if (this.stk.get(tx.CheckoutRequestID)?.status === 'pending') return this.resolveStk(tx.CheckoutRequestID, {});
      });
    }
    return {
      MerchantRequestID: tx.MerchantRequestID,
      CheckoutRequestID: tx.CheckoutRequestID,
      ResponseCode: '0',
      ResponseDescription: 'Success. Request accepted for processing',
      CustomerMessage: 'Success. Request accepted for processing',
    };
  }

  /**
   * Ends a pending push with `outcome` (default: what the rules chose) and sends its
   * callback. Resolves once the callback was answered (normal, duplicated) or
   * scheduled (delayed) or withheld (never).
   */
  async resolveStk(checkoutRequestId: string, opts: ResolveOptions): Promise<StkTransaction> {
    const tx = this.stk.get(checkoutRequestId);
    if (!tx) throw new ControlError(404, `no STK push ${checkoutRequestId}`);
    if (tx.status !== 'pending') throw new ControlError(409, `STK push ${checkoutRequestId} is already ${tx.status} (ResultCode ${tx.ResultCode})`);
    const requested = this.requestedOutcome('stk', opts.outcome, tx.plannedOutcome);
    if (opts.delivery) tx.delivery = opts.delivery;
    if (opts.queryDisagrees !== undefined) tx.queryDisagrees = opts.queryDisagrees;

    const code = requested === 0 ? this.payStk(tx) : requested;
    tx.status = 'completed';
    tx.completedAt = this.nowIso();
    tx.ResultCode = code;
    tx.ResultDesc = STK_RESULTS.get(code) ?? 'Failed';
    this.logger.info({ checkoutRequestId, resultCode: code, receipt: tx.MpesaReceiptNumber }, 'stk push resolved');

    const callback = {
      Body: {
        stkCallback: {
          MerchantRequestID: tx.MerchantRequestID,
          CheckoutRequestID: tx.CheckoutRequestID,
          ResultCode: code,
          ResultDesc: tx.ResultDesc,
          ...(code === 0 && {
            CallbackMetadata: {
              Item: [
                { Name: 'Amount', Value: '__AMOUNT__' },
                { Name: 'MpesaReceiptNumber', Value: tx.MpesaReceiptNumber },
                { Name: 'Balance' },
                { Name: 'TransactionDate', Value: Number(darajaTimestamp(this.clock.now())) },
                { Name: 'PhoneNumber', Value: Number(tx.PhoneNumber) },
              ],
            },
          }),
        },
      },
    };
    // Daraja writes the amount as a decimal (`1.00`); JSON.stringify cannot.
    const body = JSON.stringify(callback).replace('"__AMOUNT__"', `${tx.Amount}.00`);
    const mode = ['queue_timeout', 'timeout_then_result', 'failure_then_success'].includes(tx.delivery.mode) ? { ...tx.delivery, mode: 'normal' as const } : tx.delivery;
    await this.callbacks.deliver(mode, { kind: 'stk', ref: tx.CheckoutRequestID, url: tx.CallBackURL, body }, this.settings.delivery);
    return tx;
  }

  /** Moves the money of a successful push, or returns the limit / balance failure code. */
  private payStk(tx: StkTransaction): ResultCode {
    if (tx.TransactionType === 'CustomerPayBillOnline' && tx.PartyB !== tx.BusinessShortCode) return 2028;
    if (tx.Amount > LIMITS.stkMax) return 3;
    const customer = this.ledger.customer(tx.PartyA);
    if (this.ledger.sentToday(customer) + tx.Amount > LIMITS.dailyMax) return 4;
    if (this.ledger.balance(customer) < tx.Amount) return 1;
    tx.MpesaReceiptNumber = this.newReceipt();
    this.ledger.transfer(customer, paybillAccount(tx.BusinessShortCode), tx.Amount, 'stk', tx.MpesaReceiptNumber);
    return 0;
  }

  stkQuery(req: { BusinessShortCode: string; Password: string; Timestamp: string; CheckoutRequestID: string }) {
    this.checkStkCredentials(req.BusinessShortCode, req.Password, req.Timestamp);
    const tx = this.stk.get(req.CheckoutRequestID);
    if (!tx || tx.BusinessShortCode !== req.BusinessShortCode) throw errors.invalidField('CheckoutRequestID');
    if (tx.status === 'pending') throw errors.beingProcessed(tx.CheckoutRequestID);
    let code = tx.ResultCode!;
    let desc = tx.ResultDesc!;
    if (code === 0 && tx.queryDisagrees) {
      // The real sandbox sometimes reports a failure for a push whose callback said paid.
      code = resolveOutcome('stk', this.settings.queryDisagreeCode) as ResultCode;
      desc = STK_RESULTS.get(code) ?? 'Failed';
    }
    return {
      ResponseCode: '0',
      ResponseDescription: PENDING_QUERY.ResponseDescription,
      MerchantRequestID: tx.MerchantRequestID,
      CheckoutRequestID: tx.CheckoutRequestID,
      ResultCode: String(code), // a string here, a number in the callback
      ResultDesc: desc,
    };
  }

  // ---- B2C ------------------------------------------------------------------------

  private credentialMatches(initiator: string, securityCredential: string) {
    return initiator === this.config.MPESA_INITIATOR_NAME && this.credentials.decrypt(securityCredential) === this.config.MPESA_INITIATOR_PASSWORD;
  }

  async b2cPayment(req: B2cRequest, version: 'v1' | 'v3') {
    if (this.b2c.has(req.OriginatorConversationID)) throw errors.duplicateOriginator();
    const decision = decide(this.rules, 'b2c', req.PartyB, req.Amount);
    const { SecurityCredential: _omit, ...request } = req;
    const tx: B2cTransaction = {
      OriginatorConversationID: req.OriginatorConversationID,
      ConversationID: ids.conversationId(this.clock.now()),
      version,
      InitiatorName: req.InitiatorName,
      CommandID: req.CommandID,
      Amount: req.Amount,
      PartyA: req.PartyA,
      PartyB: req.PartyB,
      Remarks: req.Remarks,
      Occassion: req.Occassion ?? req.Occasion,
      ResultURL: req.ResultURL,
      QueueTimeOutURL: req.QueueTimeOutURL,
      credentialValid: this.credentialMatches(req.InitiatorName, req.SecurityCredential),
      status: 'pending',
      createdAt: this.nowIso(),
      plannedOutcome: decision.outcome,
      decidedBy: decision.source,
      delivery: decision.delivery ?? { mode: this.settings.delivery.mode },
      request,
    };
    this.b2c.set(tx.OriginatorConversationID, tx);
    this.ledger.customer(req.PartyB);
    this.logger.info({ originatorConversationId: tx.OriginatorConversationID, phone: tx.PartyB, amount: tx.Amount, planned: tx.plannedOutcome, delivery: tx.delivery.mode, credentialValid: tx.credentialValid }, 'b2c accepted');

    if (tx.delivery.mode === 'before_response') {
      await this.resolveB2c(tx.OriginatorConversationID, {});
    } else if (tx.plannedOutcome !== 'pending' && this.settings.b2cResolveMs > 0) {
      this.callbacks.later(this.settings.b2cResolveMs, () => {
        if (this.b2c.get(tx.OriginatorConversationID)?.status === 'pending') return this.resolveB2c(tx.OriginatorConversationID, {});
      });
    }
    return {
      ConversationID: tx.ConversationID,
      OriginatorConversationID: tx.OriginatorConversationID,
      ResponseCode: '0',
      ResponseDescription: 'Accept the service request successfully.',
    };
  }

  async resolveB2c(originatorConversationId: string, opts: ResolveOptions): Promise<B2cTransaction> {
    const tx = this.b2c.get(originatorConversationId);
    if (!tx) throw new ControlError(404, `no B2C ${originatorConversationId}`);
    if (tx.status !== 'pending') throw new ControlError(409, `B2C ${originatorConversationId} is already ${tx.status}`);
    const requested = this.requestedOutcome('b2c', opts.outcome, tx.plannedOutcome);
    if (opts.delivery) tx.delivery = opts.delivery;
    const defaults = this.settings.delivery;
    tx.completedAt = this.nowIso();

    if (tx.delivery.mode === 'queue_timeout') {
      // Expired in Daraja's queue: M-Pesa never saw it, no money moves, no result ever comes.
      tx.status = 'expired';
      this.logger.info({ originatorConversationId }, 'b2c expired in queue');
      await this.callbacks.deliver({ mode: 'normal' }, this.timeoutMessage('b2c_timeout', tx.OriginatorConversationID, tx.ConversationID, tx.QueueTimeOutURL, tx.request), defaults);
      return tx;
    }

    const code = !tx.credentialValid ? 2001 : tx.PartyA !== this.config.MPESA_B2C_SHORTCODE ? 2028 : requested === 0 ? this.payB2c(tx) : requested;
    tx.status = 'completed';
    tx.ResultCode = code;
    tx.ResultDesc = B2C_RESULTS.get(code) ?? 'Failed';
    tx.TransactionID ??= ids.placeholderReceipt(this.clock.now());
    this.logger.info({ originatorConversationId, resultCode: code, receipt: tx.TransactionID }, 'b2c resolved');

    const utility = utilityAccount(this.config.MPESA_B2C_SHORTCODE);
    const result = {
      Result: {
        ResultType: 0,
        ResultCode: code,
        ResultDesc: tx.ResultDesc,
        OriginatorConversationID: tx.OriginatorConversationID,
        ConversationID: tx.ConversationID,
        TransactionID: tx.TransactionID,
        ...(code === 0 && {
          ResultParameters: {
            ResultParameter: [
              { Key: 'TransactionAmount', Value: tx.Amount },
              { Key: 'TransactionReceipt', Value: tx.TransactionID },
              { Key: 'ReceiverPartyPublicName', Value: customerName(tx.PartyB) },
              { Key: 'TransactionCompletedDateTime', Value: b2cDateTime(this.clock.now()) },
              { Key: 'B2CUtilityAccountAvailableFunds', Value: this.ledger.balance(utility) },
              { Key: 'B2CWorkingAccountAvailableFunds', Value: 0 },
              { Key: 'B2CRecipientIsRegisteredCustomer', Value: 'Y' },
              { Key: 'B2CChargesPaidAccountAvailableFunds', Value: 0 },
            ],
          },
        }),
        ReferenceData: { ReferenceItem: { Key: 'QueueTimeoutURL', Value: 'https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit' } },
      },
    };
    const message: CallbackMessage = { kind: 'b2c_result', ref: tx.OriginatorConversationID, url: tx.ResultURL, body: JSON.stringify(result) };
    if (tx.delivery.mode === 'failure_then_success' && code === 0) {
      // A failure result for a payment that completes all the same (the money moved above):
      // the real result follows delayMs later. Only Transaction Status tells the truth.
      const falseCode = resolveOutcome('b2c', this.settings.falseFailureCode) as ResultCode;
      const failure = { Result: { ...result.Result, ResultCode: falseCode, ResultDesc: B2C_RESULTS.get(falseCode) ?? 'Failed', TransactionID: ids.placeholderReceipt(this.clock.now()), ResultParameters: undefined } };
      await this.callbacks.deliver({ mode: 'normal' }, { ...message, body: JSON.stringify(failure) }, defaults);
      await this.callbacks.deliver({ mode: 'delayed', delayMs: tx.delivery.delayMs }, message, defaults);
    } else if (tx.delivery.mode === 'timeout_then_result') {
      // A timeout notification is not proof of failure: the result follows later.
      await this.callbacks.deliver({ mode: 'normal' }, this.timeoutMessage('b2c_timeout', tx.OriginatorConversationID, tx.ConversationID, tx.QueueTimeOutURL, tx.request), defaults);
      await this.callbacks.deliver({ mode: 'delayed', delayMs: tx.delivery.delayMs }, message, defaults);
    } else {
      await this.callbacks.deliver(tx.delivery, message, defaults);
    }
    return tx;
  }

  private payB2c(tx: B2cTransaction): ResultCode {
    if (tx.Amount < LIMITS.b2cMin) return 2;
    if (tx.Amount > LIMITS.b2cMax) return 3;
    const utility = utilityAccount(tx.PartyA);
    const customer = this.ledger.customer(tx.PartyB);
    if (this.ledger.balance(utility) < tx.Amount) return 1;
    if (this.ledger.balance(customer) + tx.Amount > LIMITS.balanceMax) return 8;
    tx.TransactionID = this.newReceipt();
    this.ledger.transfer(utility, customer, tx.Amount, 'b2c', tx.TransactionID);
    return 0;
  }

  private timeoutMessage(kind: 'b2c_timeout' | 'status_timeout', originator: string, conversation: string, url: string, request: Record<string, unknown>): CallbackMessage {
    const body =
      this.settings.timeoutShape === 'echo'
        ? { ...request, OriginatorConversationID: originator }
        : {
            Result: {
              ResultType: 0,
              ResultCode: 1,
              ResultDesc: 'The service request timed out.',
              OriginatorConversationID: originator,
              ConversationID: conversation,
              TransactionID: ids.placeholderReceipt(this.clock.now()),
            },
          };
    return { kind, ref: originator, url, body: JSON.stringify(body) };
  }

  // ---- Transaction Status -----------------------------------------------------------

  async transactionStatus(req: TransactionStatusRequest) {
    const q: StatusQuery = {
      OriginatorConversationID: ids.requestId(),
      ConversationID: ids.conversationId(this.clock.now()),
      request: req,
      credentialValid: this.credentialMatches(req.Initiator, req.SecurityCredential),
      status: 'pending',
      createdAt: this.nowIso(),
    };
    this.statusQueries.set(q.OriginatorConversationID, q);
    const mode = this.settings.delivery.mode;
    if (mode === 'before_response') await this.resolveStatus(q);
    else this.callbacks.later(this.settings.b2cResolveMs, () => this.resolveStatus(q));
    return {
      OriginatorConversationID: q.OriginatorConversationID,
      ConversationID: q.ConversationID,
      ResponseCode: '0',
      ResponseDescription: 'Accept the service request successfully.',
    };
  }

  private async resolveStatus(q: StatusQuery) {
    if (q.status !== 'pending') return;
    const defaults = this.settings.delivery;
    const delivery: Delivery = { mode: defaults.mode };
    const req = q.request;
    if (delivery.mode === 'queue_timeout') {
      q.status = 'expired';
      const { SecurityCredential: _omit, ...echo } = req;
      await this.callbacks.deliver({ mode: 'normal' }, this.timeoutMessage('status_timeout', q.OriginatorConversationID, q.ConversationID, req.QueueTimeOutURL, echo), defaults);
      return;
    }
    let found = q.credentialValid ? this.findForStatus(req) : undefined;
    let echo: { Key: string; Value: string | number }[] | undefined;
    if (found && this.settings.statusWhileQueued === 'no_record' && found.some((p) => p.Key === 'TransactionStatus' && p.Value === 'Initiated')) {
      // Still queued at Safaricom: M-Pesa has no record of it yet. The answer names what was
      // asked about (chosen where the spec is silent), which is what made it so believable.
      echo = found.filter((p) => p.Key === 'OriginatorConversationID');
      found = undefined;
    }
    const code: ResultCode = !q.credentialValid ? 2001 : found ? 0 : 'R000002';
    q.status = 'completed';
    q.ResultCode = code;
    const result = {
      Result: {
        ResultType: 0,
        ResultCode: code,
        ResultDesc: code === 0 ? 'The service request is processed successfully.' : code === 2001 ? 'The initiator information is invalid.' : 'The transaction receipt number does not exist.',
        OriginatorConversationID: q.OriginatorConversationID,
        ConversationID: q.ConversationID,
        TransactionID: code === 0 ? this.newReceipt() : ids.placeholderReceipt(this.clock.now()),
        ...((found ?? echo) && { ResultParameters: { ResultParameter: found ?? echo } }),
        ReferenceData: { ReferenceItem: { Key: 'Occasion', Value: req.Occasion ?? '' } },
      },
    };
    const message: CallbackMessage = { kind: 'status_result', ref: q.OriginatorConversationID, url: req.ResultURL, body: JSON.stringify(result) };
    if (delivery.mode === 'timeout_then_result') {
      const { SecurityCredential: _omit, ...echo } = req;
      await this.callbacks.deliver({ mode: 'normal' }, this.timeoutMessage('status_timeout', q.OriginatorConversationID, q.ConversationID, req.QueueTimeOutURL, echo), defaults);
      await this.callbacks.deliver({ mode: 'delayed' }, message, defaults);
    } else {
      await this.callbacks.deliver(delivery, message, defaults);
    }
  }

  /** ResultParameters for a known transaction: STK by receipt, B2C by receipt or OriginatorConversationID. */
  private findForStatus(req: TransactionStatusRequest) {
    const kv = (Key: string, Value: string | number) => ({ Key, Value });
    const b2c = [...this.b2c.values()].find(
      (t) =>
        (req.TransactionID && t.TransactionID === req.TransactionID && t.ResultCode === 0) ||
        (req.OriginalConversationID && (t.OriginatorConversationID === req.OriginalConversationID || t.ConversationID === req.OriginalConversationID)),
    );
    if (b2c) {
      const status = b2c.status === 'pending' ? 'Initiated' : b2c.status === 'expired' ? 'Expired' : b2c.ResultCode === 0 ? 'Completed' : 'Declined';
      const time = Number(darajaTimestamp(Date.parse(b2c.completedAt ?? b2c.createdAt)));
      return [
        kv('DebitPartyName', `${b2c.PartyA} - Descrow Sandbox B2C`),
        kv('CreditPartyName', customerName(b2c.PartyB)),
        kv('OriginatorConversationID', b2c.OriginatorConversationID),
        kv('InitiatedTime', Number(darajaTimestamp(Date.parse(b2c.createdAt)))),
        kv('DebitAccountType', 'Utility Account'),
        kv('DebitPartyCharges', ''),
        kv('TransactionReason', ''),
        kv('ReasonType', 'Business Payment to Individual via API'),
        kv('TransactionStatus', status),
        kv('FinalisedTime', time),
        kv('Amount', b2c.Amount),
        kv('ConversationID', b2c.ConversationID),
        kv('ReceiptNo', b2c.ResultCode === 0 ? b2c.TransactionID! : ''),
      ];
    }
    const stk = req.TransactionID ? [...this.stk.values()].find((t) => t.MpesaReceiptNumber === req.TransactionID) : undefined;
    if (stk) {
      return [
        kv('DebitPartyName', customerName(stk.PartyA)),
        kv('CreditPartyName', `${stk.BusinessShortCode} - Descrow Sandbox Paybill`),
        kv('OriginatorConversationID', stk.MerchantRequestID),
        kv('InitiatedTime', Number(darajaTimestamp(Date.parse(stk.createdAt)))),
        kv('DebitAccountType', 'MMF Account For Customer'),
        kv('DebitPartyCharges', ''),
        kv('TransactionReason', ''),
        kv('ReasonType', 'Pay Bill Online'),
        kv('TransactionStatus', 'Completed'),
        kv('FinalisedTime', Number(darajaTimestamp(Date.parse(stk.completedAt!)))),
        kv('Amount', stk.Amount),
        kv('ConversationID', stk.CheckoutRequestID),
        kv('ReceiptNo', stk.MpesaReceiptNumber!),
      ];
    }
    return undefined;
  }

  // ---- Transaction pull ---------------------------------------------------------------

  readonly pullRegistrations = new Map<string, { NominatedNumber: string; CallBackURL: string }>();

  pullRegister(req: { ShortCode: string; NominatedNumber: string; CallBackURL: string }) {
    if (req.ShortCode !== this.config.MPESA_SHORTCODE) throw errors.invalidField('ShortCode');
    this.pullRegistrations.set(req.ShortCode, { NominatedNumber: req.NominatedNumber, CallBackURL: req.CallBackURL });
    return { ResponseRefID: ids.requestId(), ResponseStatus: '1000', ShortCode: req.ShortCode, ResponseDescription: 'Shortcode Registered Successfully' };
  }

  /** Payments the paybill received in [StartDate, EndDate] (EAT), oldest first, 1,000 per page from OffSetValue. */
  pullQuery(req: PullQueryRequest) {
    if (req.ShortCode !== this.config.MPESA_SHORTCODE) throw errors.invalidField('ShortCode');
    const eat = (v: string) => Date.parse(`${v.replace(' ', 'T')}+03:00`);
    const [from, to] = [eat(req.StartDate), eat(req.EndDate)];
    if (!(from <= to)) throw errors.invalidField('EndDate');
    // STK payments and Pay Bill (C2B) payments alike: both are money the paybill received.
    const paid = [
      ...[...this.stk.values()]
        .filter((t) => t.ResultCode === 0 && t.MpesaReceiptNumber && t.BusinessShortCode === req.ShortCode)
        .map((t) => ({ receipt: t.MpesaReceiptNumber!, phone: t.PhoneNumber, ref: t.AccountReference, amount: t.Amount, at: Date.parse(t.completedAt!) })),
      ...[...this.c2b.values()]
        .filter((t) => t.status === 'completed' && t.BusinessShortCode === req.ShortCode)
        .map((t) => ({ receipt: t.TransID, phone: t.MSISDN, ref: t.BillRefNumber, amount: t.Amount, at: Date.parse(t.createdAt) })),
    ]
      .filter(({ at }) => at >= from && at <= to)
      .sort((a, b) => a.at - b.at); // stable: same second, in the order they were paid
    const page = paid.slice(Number(req.OffSetValue), Number(req.OffSetValue) + 1_000).map((t) => ({
      transactionId: t.receipt,
      trxDate: new Date(t.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      msisdn: Number(t.phone),
      sender: 'UNKNOWN',
      transactiontype: 'c2b-pay-bill-debit',
      billreference: t.ref,
      amount: `${t.amount}.0`,
      organizationname: 'Descrow Sandbox Paybill',
    }));
    return { ResponseRefID: ids.requestId(), ResponseCode: '1000', ResponseMessage: 'Success', Response: [page] };
  }

  // ---- C2B: Pay Bill from the M-Pesa menu --------------------------------------------

  /** C2B Register URL: the shortcode's confirmation (and optional validation) URLs, replaced on each call. */
  c2bRegister(req: C2bRegisterRequest) {
    if (req.ShortCode !== this.config.MPESA_SHORTCODE) throw errors.invalidField('ShortCode');
    this.c2bRegistrations.set(req.ShortCode, req);
    // sic: "OriginatorCoversationID", as Daraja spells it in this answer.
    return { OriginatorCoversationID: ids.requestId(), ResponseCode: '0', ResponseDescription: 'Success' };
  }

  /**
   * A customer pays the Pay Bill from their phone (control API; in life, the M-Pesa menu):
   * the validation URL may refuse it (when registered and `c2bValidation` is on, as
   * Safaricom enables external validation per shortcode), the money moves, the
   * confirmation URL hears of it, and the transaction pull lists it. MSISDN in the callbacks
   * is masked, as Daraja sends it today.
   */
  async payBill(input: { phone: string; amount: number; billRefNumber: string; shortCode?: string }): Promise<C2bTransaction> {
    const shortcode = input.shortCode ?? this.config.MPESA_SHORTCODE;
    if (shortcode !== this.config.MPESA_SHORTCODE) throw new ControlError(400, `no Pay Bill ${shortcode} here (the paybill is ${this.config.MPESA_SHORTCODE})`);
    const customer = this.ledger.customer(input.phone);
    const tx: C2bTransaction = {
      TransID: this.newReceipt(), TransactionType: 'Pay Bill', BusinessShortCode: shortcode, BillRefNumber: input.billRefNumber,
      Amount: input.amount, MSISDN: input.phone, status: 'completed', createdAt: this.nowIso(),
    };
    const registration = this.c2bRegistrations.get(shortcode);
    const body = (balance: number) => JSON.stringify({
      TransactionType: tx.TransactionType, TransID: tx.TransID, TransTime: darajaTimestamp(Date.parse(tx.createdAt)), TransAmount: '__AMOUNT__',
      BusinessShortCode: shortcode, BillRefNumber: tx.BillRefNumber, InvoiceNumber: '', OrgAccountBalance: `${balance}.00`, ThirdPartyTransID: '',
      MSISDN: `${tx.MSISDN.slice(0, 6)}***${tx.MSISDN.slice(-3)}`, FirstName: customerName(tx.MSISDN).split(' - ')[1]!.split(' ')[0], MiddleName: '', LastName: customerName(tx.MSISDN).split(' ').pop(),
    }).replace('"__AMOUNT__"', `"${tx.Amount}.00"`);
    if (this.ledger.balance(customer) < tx.Amount) {
      tx.status = 'rejected';
      tx.ResultCode = '1';
    } else if (registration?.ValidationURL && this.settings.c2bValidation) {
      const verdict = await this.callbacks.ask({ kind: 'c2b_validation', ref: tx.TransID, url: registration.ValidationURL, body: body(this.ledger.balance(paybillAccount(shortcode))) });
      // Unreachable or unreadable: the registered ResponseType decides (Completed = go ahead).
      const code = verdict === null ? (registration.ResponseType === 'Completed' ? '0' : 'C2B00016') : verdict;
      if (code !== '0') {
        tx.status = 'rejected';
        tx.ResultCode = code;
      }
    }
    this.c2b.set(tx.TransID, tx);
    if (tx.status === 'rejected') {
      this.logger.info({ transId: tx.TransID, resultCode: tx.ResultCode }, 'pay bill payment rejected');
      return tx;
    }
    this.ledger.transfer(customer, paybillAccount(shortcode), tx.Amount, 'c2b', tx.TransID);
    this.logger.info({ transId: tx.TransID, phone: tx.MSISDN, amount: tx.Amount, billRef: tx.BillRefNumber }, 'pay bill payment completed');
    if (registration) {
      await this.callbacks.deliver({ mode: 'normal' }, { kind: 'c2b_confirmation', ref: tx.TransID, url: registration.ConfirmationURL, body: body(this.ledger.balance(paybillAccount(shortcode))) }, this.settings.delivery);
    }
    return tx;
  }

  // ---- helpers --------------------------------------------------------------------

  private requestedOutcome(product: Product, outcome: Outcome | undefined, planned: ResultCode | 'pending'): ResultCode {
    if (outcome === undefined) return planned === 'pending' ? 0 : planned;
    const code = resolveOutcome(product, outcome);
    if (code === undefined || code === 'pending') throw new ControlError(400, `outcome ${JSON.stringify(outcome)} is not a ${product} outcome`);
    return code;
  }

  private readonly receipts = new Set<string>();
  private newReceipt(): string {
    for (;;) {
      const r = ids.receipt(this.clock.now());
      if (!this.receipts.has(r)) {
        this.receipts.add(r);
        return r;
      }
    }
  }

  /** Opening a wallet for a phone (control API) goes through the same path as a first payment. */
  walletAccount(msisdn: string) {
    this.ledger.customer(msisdn);
    return customerAccount(msisdn);
  }

  async close(): Promise<void> {
    await this.callbacks.close();
  }
}

/** An error of the control API (not a Daraja envelope: /__sim is ours). */
export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export { deliverySchema };
