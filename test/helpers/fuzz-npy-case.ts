/**
 * One .npy fuzz case, as data: a valid file (any version, dtype, byte order,
 * order and header spelling), edits to its header dictionary, byte-level
 * mutations, the valid file it is paired with, and the options. `npyInput`
 * builds the bytes; fuzz-run.ts runs and judges it.
 */
import * as fc from 'fast-check';
import type { DType } from '../../src/tensor/tensor.js';
import { elementBytes } from './fuzz-bytes.js';
import { applyMutations, mutationArb, type Layout, type Mutation, type Region } from './fuzz-mutate.js';
import { descrOf, headerText, lenientVerdict, npyFile, readNpyRef, shapeText, type HeaderStyle, type NpyOrder, type NpyVersion } from './fuzz-npy.js';
import type { RefVerdict } from './fuzz-run.js';
import { DTYPES, ITEM_BYTES } from './reference.js';

export interface NpyBase {
  readonly dtype: DType;
  readonly order: NpyOrder;
  readonly shape: readonly number[];
  readonly version: NpyVersion;
  readonly fortran: boolean;
  readonly style: HeaderStyle;
  readonly seed: number;
}

/** An edit of the header dictionary, applied to its entries as text. */
export type HeaderEdit =
  | { readonly e: 'value'; readonly i: number; readonly text: string }
  | { readonly e: 'key'; readonly i: number; readonly text: string }
  | { readonly e: 'drop'; readonly i: number }
  | { readonly e: 'add'; readonly i: number; readonly key: string; readonly text: string }
  | { readonly e: 'shape'; readonly dims: readonly string[]; readonly trailingComma: boolean }
  | { readonly e: 'descr'; readonly text: string }
  | { readonly e: 'space'; readonly i: number; readonly text: string }
  | { readonly e: 'raw'; readonly text: string };

export interface NpyCase {
  readonly base: NpyBase;
  readonly edits: readonly HeaderEdit[];
  /** Data sized to what the edited header claims (when small), else the base's data. */
  readonly fitData: boolean;
  readonly mutations: readonly Mutation[];
  /** The file a splice takes its tail from. */
  readonly other: NpyBase;
}

// ---------------------------------------------------------------------------
// Arbitraries.

const SHAPES = {
  small: fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 4 }).filter((s) => s.reduce((n, d) => n * d, 1) <= 400),
  /** More than one 4096-element chunk, so that the worker pool runs. */
  pooled: fc.oneof(
    fc.integer({ min: 4097, max: 9000 }).map((n) => [n]),
    fc.tuple(fc.integer({ min: 65, max: 90 }), fc.integer({ min: 65, max: 100 })).map((s) => [...s]),
  ),
};

const styleArb: fc.Arbitrary<HeaderStyle> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ quote: "'", space: ' ', trailingComma: true, keyOrder: [0, 1, 2], align: 64, newline: true } as HeaderStyle) },
  {
    weight: 1,
    arbitrary: fc.record({
      quote: fc.constantFrom<"'" | '"'>("'", '"'),
      space: fc.constantFrom('', ' ', '  ', '\t', '\n'),
      trailingComma: fc.boolean(),
      keyOrder: fc.constantFrom([0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1], [2, 0, 1], [1, 2, 0]),
      align: fc.constantFrom(1, 16, 64),
      newline: fc.boolean(),
    }),
  },
);

export const npyBaseArb = (shape: fc.Arbitrary<number[]> = SHAPES.small): fc.Arbitrary<NpyBase> =>
  fc.record({
    dtype: fc.constantFrom(...DTYPES),
    order: fc.constantFrom<NpyOrder>('<', '<', '>', '|', '='),
    shape,
    version: fc.constantFrom<NpyVersion>(1, 1, 2, 3),
    fortran: fc.boolean(),
    style: styleArb,
    seed: fc.integer(),
  });

/** Integers as a header may spell them, the overflowing and the malformed among them. */
const DIMS = [
  '0', '1', '2', '3', '7', '00', '-0', '+3', '-1', '-3', '007', '3L', '3.0', '1e3', '0x10', '1_0', 'True', 'None', "'3'", '()',
  '2147483647', '2147483648', '4294967295', '4294967296', '65536', '1099511627776', '4611686018427387904', '9007199254740991',
  '9007199254740993', '9223372036854775807', '9223372036854775808', '18446744073709551616', '-9223372036854775808',
  '99999999999999999999999999999999',
];

const DESCRS = [
  '<f4', '>f4', '|f4', '=f4', 'f4', '<f8', '>f8', '<f2', '>f2', '|b1', '<b1', 'b1', '|i1', '|u1', '<i2', '>u2', '<i4', '<u4', '<i8', '>i8', '<u8',
  '<f04', 'f004', '<f16', '<f1', '<f3', '<i3', '<c8', '<c16', '|O', '<U3', '|S4', '|V8', '<M8[ns]', '<m8[s]', 'float32', '?', '<b', 'd', '', '<',
  '<f4 ', ' <f4', '<F4', '<f4\u00e9', "<f4'", '<f4\\', '<c8\n', '|O\r', '<f4\n', '\u001b[31m<c8',
];

const quoted = (s: string): string => `'${s}'`;

/** A Python literal's text, or something close to one. */
const pyTextArb: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: fc.constantFrom(...DIMS) },
    { weight: 3, arbitrary: fc.constantFrom(...DESCRS).map(quoted) },
    { weight: 2, arbitrary: fc.constantFrom('True', 'False', 'None', 'true', 'TRUE', '1', '0') },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(quoted) },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `(${xs.join(', ')}${xs.length === 1 ? ',' : ''})`) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom("'descr'", "'shape'", "'fortran_order'", "'x'", '1'), tie('value')), { maxLength: 3 }).map((es) => `{${es.map(([k, v]) => `${k}: ${v}`).join(', ')}}`) },
  ),
})).value;

const KEYS = ["'descr'", "'shape'", "'fortran_order'", '"descr"', "'Descr'", "'shape '", "' shape'", "'fortran'", "'__proto__'", "'constructor'", "'x'", '1', 'None', "''", "'sha\npe'"];

/** White space and near-white space, Python's and JavaScript's. */
const SPACES = ['', ' ', '\t', '\n', '\r', '\f', '\v', '\u00a0', '\u0085', '\u2028', '\ufeff', '\u0000', '#', '\\\n'];

export const headerEditArb: fc.Arbitrary<HeaderEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ e: fc.constant('value' as const), i: fc.nat({ max: 3 }), text: pyTextArb }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant('key' as const), i: fc.nat({ max: 3 }), text: fc.constantFrom(...KEYS) }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant('drop' as const), i: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant('add' as const), i: fc.nat({ max: 3 }), key: fc.constantFrom(...KEYS), text: pyTextArb }) },
  { weight: 4, arbitrary: fc.record({ e: fc.constant('shape' as const), dims: fc.array(fc.constantFrom(...DIMS), { maxLength: 4 }), trailingComma: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ e: fc.constant('descr' as const), text: fc.constantFrom(...DESCRS).map(quoted) }) },
  { weight: 2, arbitrary: fc.record({ e: fc.constant('space' as const), i: fc.nat({ max: 20 }), text: fc.constantFrom(...SPACES) }) },
  { weight: 1, arbitrary: fc.record({ e: fc.constant('raw' as const), text: pyTextArb }) },
);

const NPY_REGIONS: readonly Region[] = ['any', 'head', 'head', 'length', 'meta', 'meta', 'body', 'tail'];

export const npyCaseArb = (shape?: fc.Arbitrary<number[]>): fc.Arbitrary<NpyCase> =>
  fc.record({
    base: npyBaseArb(shape),
    edits: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(headerEditArb, { minLength: 1, maxLength: 3 }) }),
    fitData: fc.boolean(),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 4, arbitrary: fc.array(mutationArb(NPY_REGIONS), { minLength: 1, maxLength: 4 }) }),
    other: npyBaseArb(),
  });

export const pooledNpyCaseArb = (): fc.Arbitrary<NpyCase> => npyCaseArb(SHAPES.pooled);

// ---------------------------------------------------------------------------
// Bytes.

const count = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** The header's entries as [key, value] texts, in the base's key order. */
function entries(base: NpyBase): [string, string][] {
  const q = base.style.quote;
  const all: [string, string][] = [
    [`${q}descr${q}`, `${q}${descrOf(base.dtype, base.order)}${q}`],
    [`${q}fortran_order${q}`, base.fortran ? 'True' : 'False'],
    [`${q}shape${q}`, shapeText(base.shape, base.style.space)],
  ];
  return base.style.keyOrder.map((i) => all[i]!);
}

/** The header dict text after `edits`. */
export function editedHeader(base: NpyBase, edits: readonly HeaderEdit[]): string {
  if (edits.length === 0) return headerText(descrOf(base.dtype, base.order), base.fortran, base.shape, base.style);
  let list = entries(base);
  const s = base.style.space;
  let raw: string | undefined;
  const indexOf = (key: string): number => list.findIndex(([k]) => k.slice(1, -1) === key);
  for (const edit of edits) {
    const at = (i: number): number => (list.length === 0 ? 0 : i % list.length);
    switch (edit.e) {
      case 'value':
        if (list.length > 0) list[at(edit.i)] = [list[at(edit.i)]![0], edit.text];
        break;
      case 'key':
        if (list.length > 0) list[at(edit.i)] = [edit.text, list[at(edit.i)]![1]];
        break;
      case 'drop':
        if (list.length > 0) list = list.filter((_, j) => j !== at(edit.i));
        break;
      case 'add':
        list.splice(edit.i % (list.length + 1), 0, [edit.key, edit.text]);
        break;
      case 'shape': {
        const text = edit.dims.length === 1 && !edit.trailingComma ? `(${edit.dims[0]})` : `(${edit.dims.join(`,${s}`)}${edit.trailingComma || edit.dims.length === 1 ? ',' : ''})`;
        const i = indexOf('shape');
        if (i >= 0) list[i] = [list[i]![0], text];
        break;
      }
      case 'descr': {
        const i = indexOf('descr');
        if (i >= 0) list[i] = [list[i]![0], edit.text];
        break;
      }
      case 'space': {
        // Between tokens: after a key, before a value, or around the separators.
        const i = at(edit.i);
        if (list.length > 0) {
          const [k, v] = list[i]!;
          list[i] = edit.i % 2 === 0 ? [`${edit.text}${k}`, v] : [k, `${edit.text}${v}`];
        }
        break;
      }
      case 'raw':
        raw = edit.text;
        break;
    }
  }
  if (raw !== undefined) return raw;
  return `{${list.map(([k, v]) => `${k}:${s}${v}`).join(`,${s}`)}${base.style.trailingComma ? `,${s}` : ''}}`;
}

/** The base as NumPy would write it (in its style). */
export function npyBaseBytes(base: NpyBase): Uint8Array {
  const text = headerText(descrOf(base.dtype, base.order), base.fortran, base.shape, base.style);
  return npyFile(base.version, text, elementBytes(base.dtype, count(base.shape), base.seed), base.style.align, base.style.newline);
}

/** Where the header length field, the header text and the data are. */
export function npyLayout(bytes: Uint8Array): Layout {
  const major = bytes[6] ?? 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pre = major === 1 ? 10 : 12;
  const end = bytes.length < pre ? bytes.length : pre + (major === 1 ? view.getUint16(8, true) : view.getUint32(8, true));
  return { head: end, lengthFields: [8], flatbuffers: [[pre, Math.min(end, bytes.length)]], bodies: [[Math.min(end, bytes.length), bytes.length]] };
}

/** The bytes of a case: the base, its header edited (data refitted if asked), then mutated. */
export function npyInput(c: NpyCase): Uint8Array {
  const { base } = c;
  let bytes: Uint8Array;
  if (c.edits.length === 0) {
    bytes = npyBaseBytes(base);
  } else {
    const text = editedHeader(base, c.edits);
    let data = elementBytes(base.dtype, count(base.shape), base.seed);
    if (c.fitData) {
      // Data for what the edited header says, when it says something small enough to hold.
      const probe = npyFile(base.version, text, new Uint8Array(0), base.style.align, base.style.newline);
      const claims = readNpyRef(probe, { jsSpace: true, leadingZeros: true, longSuffixV3: true, listShape: true, badUtf8: true, rawStrings: true }, true);
      if (claims.ok && count(claims.ref.shape) <= 1 << 14) data = elementBytes(claims.ref.dtype, count(claims.ref.shape), base.seed);
      else if (claims.ok) data = new Uint8Array(Math.min(64, ITEM_BYTES[claims.ref.dtype] * 8));
    }
    bytes = npyFile(base.version, text, data, base.style.align, base.style.newline);
  }
  return c.mutations.length === 0 ? bytes : applyMutations(bytes, c.mutations, npyLayout(bytes), npyBaseBytes(c.other));
}

/** What the reference says a mutated .npy holds: NumPy's reading, or one of smoothl1's known leniencies. */
export function npyRefs(bytes: Uint8Array): RefVerdict[] {
  const strict = readNpyRef(bytes);
  if (strict.ok) {
    if (strict.ref.trailing > 0) return [{ ok: false, why: `${strict.ref.trailing} bytes after the data, which smoothl1 refuses (README)` }];
    return [{ ok: true, dtype: strict.ref.dtype, shape: strict.ref.shape, values: strict.ref.values }];
  }
  const lenient = lenientVerdict(bytes);
  if (lenient !== undefined && lenient.ref.trailing === 0) {
    return [{ ok: true, dtype: lenient.ref.dtype, shape: lenient.ref.shape, values: lenient.ref.values, note: `lenient:${lenient.leniency}` }];
  }
  return [{ ok: false, why: `NumPy refuses it: ${strict.why}` }];
}
