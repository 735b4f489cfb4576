/**
 * Decoded values → the plain data the pure state machine takes, with a clear error when
 * a value has the wrong type (an ABI mismatch must fail loudly, not index garbage).
 */
import type { EventArgs } from '../types';
import { eventInputs, type DecodedArgs, type DecodedValue } from './abi';

export function big(v: DecodedValue | undefined): bigint {
  if (typeof v === 'bigint') return v;
  throw new Error(`expected a number, got ${String(v)}`);
}

export function num(v: DecodedValue | undefined): number {
  return Number(big(v));
}

export function hex(v: DecodedValue | undefined): string {
  if (typeof v === 'string' && v.startsWith('0x')) return v;
  throw new Error(`expected hex, got ${String(v)}`);
}

export function str(v: DecodedValue | undefined): string {
  if (typeof v === 'string') return v;
  throw new Error(`expected a string, got ${String(v)}`);
}

export function bool(v: DecodedValue | undefined): boolean {
  if (typeof v === 'boolean') return v;
  throw new Error(`expected a bool, got ${String(v)}`);
}

/** The decoded arguments by name, as strings (OrderEvent.args: one JSON object). */
export function argList(name: string, args: DecodedArgs): EventArgs {
  const out: Record<string, string> = {};
  for (const i of eventInputs(name)) out[i.name] = String(args[i.name]);
  return out as EventArgs;
}
