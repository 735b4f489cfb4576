/**
 * Daraja speaks East Africa Time (UTC+3, no DST) wall-clock strings. The machine runs
 * TZ=UTC, so every conversion here shifts by +3 h and reads the UTC fields: never
 * the host's local time zone.
 */
export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests can move by hand (token expiry without sleeping 3599 s). */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

const EAT_OFFSET_MS = 3 * 60 * 60 * 1000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The EAT wall-clock fields of an instant. */
export function eatParts(ms: number) {
  const d = new Date(ms + EAT_OFFSET_MS);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millis: d.getUTCMilliseconds(),
  };
}

/** `YYYYMMDDHHmmss` in EAT: the STK Timestamp / TransactionDate / FinalisedTime format. */
export function darajaTimestamp(ms: number): string {
  const p = eatParts(ms);
  return `${p.year}${pad(p.month)}${pad(p.day)}${pad(p.hour)}${pad(p.minute)}${pad(p.second)}`;
}

/** `DD.MM.YYYY HH:mm:ss` in EAT: B2C's TransactionCompletedDateTime format. */
export function b2cDateTime(ms: number): string {
  const p = eatParts(ms);
  return `${pad(p.day)}.${pad(p.month)}.${p.year} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

/**
 * Parses a `YYYYMMDDHHmmss` EAT timestamp; undefined when the shape or the date is
 * impossible (20240231..., hour 24, ...), which Daraja answers with "Invalid Timestamp".
 */
export function parseDarajaTimestamp(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (year < 2000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 April over to 1 May: reject anything that did not round-trip.
  if (new Date(utc).getUTCDate() !== day) return undefined;
  return utc - EAT_OFFSET_MS;
}

/** EAT calendar day `YYYYMMDD`, used for daily limits. */
export function eatDay(ms: number): string {
  return darajaTimestamp(ms).slice(0, 8);
}
