import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@descrow/common';
import { createDarajaSimulator, type DarajaSimulator } from '../src/server';
import type { DarajaSimConfig } from '../src/config';
import { ManualClock, darajaTimestamp, type Clock } from '../src/time';
import { SANDBOX_PASSKEY } from '../src/config';
import { encryptSecurityCredential } from '../src/credentials';

/** A real HTTP receiver for callbacks, on port 0, recording every POST it gets. */
export interface Received {
  path: string;
  body: any;
  raw: string;
  headers: IncomingMessage['headers'];
  at: number;
}

export class Receiver {
  readonly received: Received[] = [];
  private server!: Server;
  url = '';
  /** HTTP status the receiver answers with. */
  status = 200;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        this.received.push({ path: req.url ?? '', body, raw, headers: req.headers, at: Date.now() });
        res.writeHead(this.status, { 'content-type': 'application/json' }).end('{"ResultCode":0,"ResultDesc":"Accepted"}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(pathPrefix: string): Received[] {
    return this.received.filter((r) => r.path.startsWith(pathPrefix));
  }

  async waitFor(pathPrefix: string, count = 1, timeoutMs = 3000): Promise<Received[]> {
    await waitUntil(() => this.on(pathPrefix).length >= count, timeoutMs, `${count} callback(s) on ${pathPrefix}`);
    return this.on(pathPrefix);
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export async function waitUntil(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CONSUMER_KEY = 'test-key';
export const CONSUMER_SECRET = 'test-secret';
export const SHORTCODE = '174379';
export const B2C_SHORTCODE = '600992';
export const INITIATOR = 'testapi';
export const INITIATOR_PASSWORD = 'Safaricom999!*!';

/** A running simulator (real HTTP on port 0) plus a client speaking to it like the oracle would. */
export class Harness {
  sim!: DarajaSimulator;
  url = '';
  token = '';
  readonly receiver = new Receiver();

  constructor(
    private readonly overrides: Partial<DarajaSimConfig> = {},
    readonly clock: Clock = new ManualClock(Date.UTC(2025, 9, 21, 16, 39, 8)),
  ) {}

  async start(): Promise<this> {
    await this.receiver.start();
    this.sim = createDarajaSimulator(
      {
        MPESA_CONSUMER_KEY: CONSUMER_KEY,
        MPESA_CONSUMER_SECRET: CONSUMER_SECRET,
        DARAJA_SIM_STK_RESOLVE_MS: 0, // tests resolve through the control API unless they say otherwise
        DARAJA_SIM_B2C_RESOLVE_MS: 0,
        DARAJA_SIM_CALLBACK_DELAY_MS: 150,
        ...this.overrides,
      },
      { logger: createLogger('daraja-sim-test', 'silent'), clock: this.clock },
    );
    this.url = await this.sim.listen(0, '127.0.0.1');
    this.token = await this.newToken();
    return this;
  }

  /** Control-API reset of the simulator, and forget what the receiver got. */
  async reset() {
    await this.control('POST', '/reset');
    this.receiver.received.length = 0;
    this.receiver.status = 200;
  }

  async stop() {
    await this.sim.close();
    await this.receiver.stop();
  }

  async newToken(): Promise<string> {
    const res = await this.oauth();
    return ((await res.json()) as { access_token: string }).access_token;
  }

  oauth(key = CONSUMER_KEY, secret = CONSUMER_SECRET, grant = 'client_credentials') {
    return fetch(`${this.url}/oauth/v1/generate?grant_type=${grant}`, {
      headers: { authorization: `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}` },
    });
  }

  /** POST a Daraja API with the bearer token; returns status and parsed JSON. */
  async post(path: string, body: unknown, token: string | null = this.token): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== null && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  /** The control API. */
  async control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}/__sim${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
  }

  stkBody(overrides: Record<string, unknown> = {}) {
    const timestamp = darajaTimestamp(this.clock.now());
    return {
      BusinessShortCode: SHORTCODE,
      Password: stkPassword(SHORTCODE, SANDBOX_PASSKEY, timestamp),
      Timestamp: timestamp,
      TransactionType: 'CustomerPayBillOnline',
      Amount: 100,
      PartyA: '254708374149',
      PartyB: SHORTCODE,
      PhoneNumber: '254708374149',
      CallBackURL: `${this.receiver.url}/hooks/stk/t0k3n`,
      AccountReference: 'ORDER42',
      TransactionDesc: 'Order 42',
      ...overrides,
    };
  }

  stkPush(overrides: Record<string, unknown> = {}) {
    return this.post('/mpesa/stkpush/v1/processrequest', this.stkBody(overrides));
  }

  stkQuery(checkoutRequestId: string) {
    const timestamp = darajaTimestamp(this.clock.now());
    return this.post('/mpesa/stkpushquery/v1/query', {
      BusinessShortCode: SHORTCODE,
      Password: stkPassword(SHORTCODE, SANDBOX_PASSKEY, timestamp),
      Timestamp: timestamp,
      CheckoutRequestID: checkoutRequestId,
    });
  }

  credential(password = INITIATOR_PASSWORD) {
    return encryptSecurityCredential(password, this.sim.state.credentials.certificatePem);
  }

  b2cBody(overrides: Record<string, unknown> = {}) {
    return {
      OriginatorConversationID: `payout-${Math.random().toString(16).slice(2)}`,
      InitiatorName: INITIATOR,
      SecurityCredential: this.credential(),
      CommandID: 'BusinessPayment',
      Amount: 100,
      PartyA: B2C_SHORTCODE,
      PartyB: '254705912645',
      Remarks: 'Oracle payout',
      QueueTimeOutURL: `${this.receiver.url}/hooks/b2c/timeout/t0k3n`,
      ResultURL: `${this.receiver.url}/hooks/b2c/result/t0k3n`,
      Occassion: 'Payout',
      ...overrides,
    };
  }

  b2c(overrides: Record<string, unknown> = {}) {
    return this.post('/mpesa/b2c/v3/paymentrequest', this.b2cBody(overrides));
  }

  resolveStk(id: string, body: Record<string, unknown> = {}) {
    return this.control('POST', `/stk/${id}/resolve`, body);
  }

  resolveB2c(id: string, body: Record<string, unknown> = {}) {
    return this.control('POST', `/b2c/${id}/resolve`, body);
  }
}

export function stkPassword(shortcode: string, passkey: string, timestamp: string) {
  return Buffer.from(shortcode + passkey + timestamp).toString('base64');
}

/** Reads a CallbackMetadata / ResultParameters item by name, as a client must. */
export function item(items: { Name?: string; Key?: string; Value?: unknown }[], name: string) {
  return items.find((i) => (i.Name ?? i.Key) === name);
}

export const ERROR_ENVELOPE = { requestId: expect.any(String), errorCode: expect.any(String), errorMessage: expect.any(String) };
