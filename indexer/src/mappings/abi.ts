/**
 * Decodes Escrow logs inside the handler bundle, from the typed ABI the contract build
 * generates. The node is deliberately not given the ABI: with one, it re-reads the ABI
 * file from disk and decodes with ethers for every log, then hands the handler an
 * ethers Result that every access must cross the sandbox bridge for. That alone capped
 * indexing at a few hundred events/s on 2 cores (docs/benchmarks.md). The node still
 * routes each log to its handler by topic signature, so the event is known here.
 *
 * Dependency-free (no TextDecoder, no Buffer: the sandbox may lack them).
 */
import { escrowAbi } from '../../../contracts/generated/escrow';

export type DecodedValue = string | bigint | boolean;
export type DecodedArgs = Record<string, DecodedValue>;

interface Input { name: string; type: string; indexed?: boolean }
const EVENTS = new Map<string, readonly Input[]>();
for (const item of escrowAbi) if (item.type === 'event') EVENTS.set(item.name, item.inputs);

/** The event's inputs in ABI order (names and types). */
export function eventInputs(name: string): readonly Input[] {
  const inputs = EVENTS.get(name);
  if (!inputs) throw new Error(`Escrow has no event ${name}`);
  return inputs;
}

function utf8(hex: string): string {
  if (!hex) return '';
  try {
    return decodeURIComponent(hex.replace(/(..)/g, '%$1'));
  } catch {
    // Not valid UTF-8: keep the bytes visible rather than guess.
    return `0x${hex}`;
  }
}

function word(hex: string, type: string): DecodedValue {
  if (type === 'address') return `0x${hex.slice(24)}`.toLowerCase();
  if (type === 'bool') return BigInt(`0x${hex}`) !== 0n;
  if (type.startsWith('uint')) return BigInt(`0x${hex}`);
  if (type === 'bytes32') return `0x${hex}`.toLowerCase();
  throw new Error(`unsupported static type ${type}`);
}

/** Decode one log of event `name` (topics and data as the node gives them). */
export function decodeEvent(name: string, topics: readonly string[], data: string): DecodedArgs {
  const out: DecodedArgs = {};
  const body = data.startsWith('0x') ? data.slice(2) : data;
  let topic = 1;
  let slot = 0;
  for (const input of eventInputs(name)) {
    if (input.indexed) {
      const t = topics[topic++];
      if (!t) throw new Error(`${name}: missing topic for ${input.name}`);
      // Indexed dynamic values (none in Escrow) are only their hash.
      out[input.name] = input.type === 'string' || input.type === 'bytes' ? t.toLowerCase() : word(t.slice(2), input.type);
      continue;
    }
    const head = body.slice(slot * 64, slot * 64 + 64);
    if (head.length !== 64) throw new Error(`${name}: data too short for ${input.name}`);
    slot++;
    if (input.type === 'string') {
      const offset = Number(BigInt(`0x${head}`)) * 2;
      const length = Number(BigInt(`0x${body.slice(offset, offset + 64)}`)) * 2;
      out[input.name] = utf8(body.slice(offset + 64, offset + 64 + length));
    } else {
      out[input.name] = word(head, input.type);
    }
  }
  return out;
}
