import type { Clock } from './time';
import { eatDay } from './time';

/**
 * Simulated money, double entry, whole KES. Accounts: `customer:<msisdn>` wallets,
 * `paybill:<shortcode>` (STK payments land here), `utility:<shortcode>` (B2C is paid
 * from here) and `external`, the world outside the simulation: opening balances and
 * top-ups come from it, so the sum over all accounts, external included, is always 0.
 */
export type AccountKind = 'customer' | 'paybill' | 'utility' | 'external';

export interface LedgerEntry {
  seq: number;
  at: string;
  from: string;
  to: string;
  amount: number;
  reason: 'opening' | 'adjustment' | 'stk' | 'b2c' | 'c2b';
  ref?: string;
}

export const customerAccount = (msisdn: string) => `customer:${msisdn}`;
export const paybillAccount = (shortcode: string) => `paybill:${shortcode}`;
export const utilityAccount = (shortcode: string) => `utility:${shortcode}`;
export const EXTERNAL = 'external';

export class Ledger {
  private readonly balances = new Map<string, number>();
  private readonly entries: LedgerEntry[] = [];
  private readonly dailyOut = new Map<string, number>(); // `${account}|${day}` → KES sent

  constructor(
    private readonly clock: Clock,
    private readonly walletOpening: number,
  ) {
    this.balances.set(EXTERNAL, 0);
  }

  /** Opens an account with `opening` KES from external; a no-op if it exists. */
  open(account: string, opening: number): void {
    if (this.balances.has(account)) return;
    this.balances.set(account, 0);
    if (opening > 0) this.move(EXTERNAL, account, opening, 'opening');
  }

  /** A customer wallet, opened with the configured balance the first time a phone is seen. */
  customer(msisdn: string): string {
    const id = customerAccount(msisdn);
    this.open(id, this.walletOpening);
    return id;
  }

  balance(account: string): number {
    return this.balances.get(account) ?? 0;
  }

  /** KES sent from `account` today (EAT calendar day), for the daily limit. */
  sentToday(account: string): number {
    return this.dailyOut.get(`${account}|${eatDay(this.clock.now())}`) ?? 0;
  }

  transfer(from: string, to: string, amount: number, reason: 'stk' | 'b2c' | 'c2b', ref: string): void {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new Error(`ledger: bad amount ${amount}`);
    if (this.balance(from) < amount) throw new Error(`ledger: ${from} cannot pay ${amount}`);
    this.move(from, to, amount, reason, ref);
    const key = `${from}|${eatDay(this.clock.now())}`;
    this.dailyOut.set(key, (this.dailyOut.get(key) ?? 0) + amount);
  }

  /** Sets a balance by moving the difference from/to external (control API, test set-up). */
  setBalance(account: string, balance: number): void {
    this.open(account, 0);
    const diff = balance - this.balance(account);
    if (diff > 0) this.move(EXTERNAL, account, diff, 'adjustment');
    if (diff < 0) this.move(account, EXTERNAL, -diff, 'adjustment');
  }

  private move(from: string, to: string, amount: number, reason: LedgerEntry['reason'], ref?: string) {
    this.balances.set(from, this.balance(from) - amount);
    this.balances.set(to, this.balance(to) + amount);
    this.entries.push({ seq: this.entries.length + 1, at: new Date(this.clock.now()).toISOString(), from, to, amount, reason, ref });
  }

  snapshot() {
    const accounts = [...this.balances.entries()]
      .map(([id, balance]) => ({ id, kind: id.split(':')[0] as AccountKind, balance }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const total = (kind: AccountKind) => accounts.filter((a) => a.kind === kind).reduce((s, a) => s + a.balance, 0);
    const totals = { customers: total('customer'), paybill: total('paybill'), utility: total('utility'), external: total('external') };
    const sum = totals.customers + totals.paybill + totals.utility + totals.external;
    // Money in the simulation = what came in from outside = -external.
    return { accounts, totals: { ...totals, inSimulation: -totals.external, sum }, balanced: sum === 0, entries: [...this.entries] };
  }
}
