/**
 * Byte-level mutations for the fuzz suite, as plain data (so that
 * fast-check prints and shrinks them) applied to a file's bytes. Positions
 * are taken modulo the region they aim at, so a mutation stays meaningful
 * while fast-check shrinks the file under it.
 */
import * as fc from 'fast-check';

/** Where a mutation lands: anywhere, in the header/metadata, in a length field or a flatbuffer, or from the end. */
export type Region = 'any' | 'head' | 'length' | 'meta' | 'body' | 'tail';

export interface Target {
  readonly region: Region;
  /** Which length field or flatbuffer, modulo their count. */
  readonly which: number;
  readonly offset: number;
}

export type Mutation =
  | { readonly k: 'flip'; readonly at: Target; readonly bit: number }
  | { readonly k: 'byte'; readonly at: Target; readonly value: number }
  | { readonly k: 'int'; readonly at: Target; readonly width: 2 | 4 | 8; readonly value: bigint; readonly aligned: boolean }
  | { readonly k: 'truncate'; readonly at: Target }
  | { readonly k: 'insert'; readonly at: Target; readonly bytes: readonly number[] }
  | { readonly k: 'delete'; readonly at: Target; readonly n: number }
  | { readonly k: 'append'; readonly bytes: readonly number[] }
  | { readonly k: 'splice'; readonly at: Target; readonly otherAt: number }
  | { readonly k: 'copy'; readonly from: Target; readonly to: Target; readonly n: number };

/** The regions of one file that targets resolve against. */
export interface Layout {
  /** Bytes of the header (.npy preamble and dict; Arrow: up to the first body). */
  readonly head: number;
  readonly lengthFields: readonly number[];
  readonly flatbuffers: readonly (readonly [number, number])[];
  readonly bodies: readonly (readonly [number, number])[];
}

/** Extreme values for length and offset fields of each width. */
const EXTREMES_32 = [0n, 1n, 2n, 3n, 4n, 7n, 8n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xfffffff8n, 0xfffffffen, 0xffffffffn, 1n << 24n, (1n << 24n) + 1n];
const EXTREMES_64 = [...EXTREMES_32, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 8n, 1n << 40n];

export const targetArb = (regions: readonly Region[]): fc.Arbitrary<Target> =>
  fc.record({ region: fc.constantFrom(...regions), which: fc.nat({ max: 15 }), offset: fc.nat({ max: 1 << 16 }) });

const smallBytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 });

export function intValueArb(width: 2 | 4 | 8): fc.Arbitrary<bigint> {
  const max = (1n << BigInt(8 * width)) - 1n;
  const extremes = (width === 8 ? EXTREMES_64 : EXTREMES_32).filter((v) => v <= max);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...extremes) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max }) },
    // Small deltas: an off-by-a-few length or offset.
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 300n }) },
  );
}

/** A mutation aimed at `regions` (the regions a format has). */
export function mutationArb(regions: readonly Region[]): fc.Arbitrary<Mutation> {
  const at = targetArb(regions);
  const width = fc.constantFrom<2 | 4 | 8>(2, 4, 4, 8);
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ k: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('byte' as const), at, value: fc.integer({ min: 0, max: 255 }) }) },
    {
      weight: 5,
      arbitrary: width.chain((w) => fc.record({ k: fc.constant('int' as const), at, width: fc.constant(w), value: intValueArb(w), aligned: fc.boolean() })),
    },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('insert' as const), at, bytes: smallBytes }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), at, n: fc.integer({ min: 1, max: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('append' as const), bytes: smallBytes }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('splice' as const), at, otherAt: fc.nat({ max: 1 << 16 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('copy' as const), from: at, to: at, n: fc.integer({ min: 1, max: 64 }) }) },
  );
}

/** Resolves a target to a byte position in a file of `length` bytes (0 for an empty file). */
export function resolve(t: Target, length: number, layout: Layout): number {
  if (length === 0) return 0;
  const pick = <T>(list: readonly T[]): T | undefined => (list.length === 0 ? undefined : list[t.which % list.length]);
  const inRange = (range: readonly [number, number] | undefined): number | undefined =>
    range === undefined || range[1] <= range[0] ? undefined : range[0] + (t.offset % (range[1] - range[0]));
  let at: number | undefined;
  switch (t.region) {
    case 'any':
      at = t.offset % length;
      break;
    case 'head':
      at = t.offset % Math.max(1, Math.min(length, layout.head));
      break;
    case 'length': {
      const field = pick(layout.lengthFields);
      // Aim at the field itself most of the time, at its neighbours now and then.
      at = field === undefined ? undefined : field + ((t.offset % 8) < 6 ? 0 : (t.offset % 8) - 8);
      break;
    }
    case 'meta':
      at = inRange(pick(layout.flatbuffers));
      break;
    case 'body':
      at = inRange(pick(layout.bodies));
      break;
    case 'tail':
      at = length - 1 - (t.offset % length);
      break;
  }
  return Math.min(Math.max(at ?? t.offset % length, 0), length - 1);
}

function writeInt(bytes: Uint8Array, at: number, width: 2 | 4 | 8, value: bigint): void {
  for (let i = 0; i < width && at + i < bytes.length; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Applies one mutation; `other` is the file a splice takes its tail from. */
export function applyMutation(input: Uint8Array, m: Mutation, layout: Layout, other: Uint8Array): Uint8Array {
  const length = input.length;
  if (m.k === 'append') return concat(input, Uint8Array.from(m.bytes));
  if (length === 0) return input;
  switch (m.k) {
    case 'flip': {
      const out = input.slice();
      const at = resolve(m.at, length, layout);
      out[at] = out[at]! ^ (1 << m.bit);
      return out;
    }
    case 'byte': {
      const out = input.slice();
      out[resolve(m.at, length, layout)] = m.value;
      return out;
    }
    case 'int': {
      const out = input.slice();
      let at = resolve(m.at, length, layout);
      if (m.aligned) at -= at % m.width;
      writeInt(out, at, m.width, m.value);
      return out;
    }
    case 'truncate':
      return input.slice(0, resolve(m.at, length, layout));
    case 'insert': {
      const at = resolve(m.at, length, layout);
      return concat(input.subarray(0, at), Uint8Array.from(m.bytes), input.subarray(at));
    }
    case 'delete': {
      const at = resolve(m.at, length, layout);
      return concat(input.subarray(0, at), input.subarray(Math.min(length, at + m.n)));
    }
    case 'splice': {
      const at = resolve(m.at, length, layout);
      return concat(input.subarray(0, at), other.subarray(other.length === 0 ? 0 : m.otherAt % other.length));
    }
    case 'copy': {
      const out = input.slice();
      const from = resolve(m.from, length, layout);
      const to = resolve(m.to, length, layout);
      out.set(input.subarray(from, Math.min(length, from + m.n)).subarray(0, length - to), to);
      return out;
    }
  }
}

/** Applies mutations in order; each resolves its targets against the layout of the original file. */
export const applyMutations = (input: Uint8Array, mutations: readonly Mutation[], layout: Layout, other: Uint8Array): Uint8Array =>
  mutations.reduce((bytes, m) => applyMutation(bytes, m, layout, other), input);
