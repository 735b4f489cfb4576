/**
 * How the console writes money and time: DOT from the chain's 18-decimal units, KES in
 * whole shillings (M-Pesa orders), times in the viewer's own time zone.
 */
const DOT_DECIMALS = 18n;

/** 1500000000000000000 → "1.5 DOT" (exact: bigint arithmetic, trailing zeros trimmed, grouped). */
export function formatDot(units: string | bigint, maxDecimals = 6): string {
  const v = BigInt(units);
  const negative = v < 0n;
  const abs = negative ? -v : v;
  const whole = abs / 10n ** DOT_DECIMALS;
  const frac = (abs % 10n ** DOT_DECIMALS).toString().padStart(Number(DOT_DECIMALS), '0').slice(0, maxDecimals).replace(/0+$/, '');
  const grouped = new Intl.NumberFormat(undefined).format(whole);
  const approx = abs % 10n ** (DOT_DECIMALS - BigInt(maxDecimals)) !== 0n ? '≈ ' : '';
  return `${approx}${negative ? '−' : ''}${grouped}${frac ? `${new Intl.NumberFormat(undefined).formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.'}${frac}` : ''} DOT`;
}

const kesFormat = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'KES', maximumFractionDigits: 0 });
export const formatKes = (shillings: string | number | bigint) => kesFormat.format(Number(shillings));

/** An order's amount in its own currency: NATIVE → DOT, MPESA → KES. */
export function formatAmount(amount: string | null | undefined, mode: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  return mode === 'MPESA' || mode === 'KES' ? formatKes(amount) : formatDot(amount);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const formatTime = (iso: string | null | undefined) => (iso ? timeFormat.format(new Date(iso)) : '—');
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export const short = (hex: string, keep = 6) => (hex.length > keep * 2 + 3 ? `${hex.slice(0, keep + 2)}…${hex.slice(-keep)}` : hex);
