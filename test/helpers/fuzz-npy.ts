/**
 * .npy for the fuzz suite, independent of src/: a writer of valid files in
 * every version and header style NumPy reads, and a reference reader that
 * follows NumPy's own (numpy/lib/format.py, read_array_header: literal_eval
 * of the header, exactly the keys descr/fortran_order/shape, shape a tuple
 * of ints, fortran_order a bool) closely enough to say what a mutated file
 * really holds. The reader accepts a subset of what NumPy accepts (no hex,
 * underscores, comments, escapes or string prefixes; only the dtypes
 * smoothl1 reads), never more, unless a `Leniency` is passed: those are
 * the places where smoothl1 is known to be more lenient than NumPy.
 */
import type { DType } from '../../src/tensor/tensor.js';
import { elementAt, ITEM_BYTES } from './fuzz-bytes.js';

export { elementAt };

export type NpyOrder = '<' | '>' | '|' | '=';
export type NpyVersion = 1 | 2 | 3;

const CODES: Readonly<Record<DType, string>> = {
  bool: 'b1',
  int8: 'i1',
  uint8: 'u1',
  int16: 'i2',
  uint16: 'u2',
  int32: 'i4',
  uint32: 'u4',
  int64: 'i8',
  uint64: 'u8',
  float16: 'f2',
  float32: 'f4',
  float64: 'f8',
};
const BY_CODE: ReadonlyMap<string, DType> = new Map(Object.entries(CODES).map(([dtype, code]) => [code, dtype as DType]));

export const descrOf = (dtype: DType, order: NpyOrder): string => `${order}${CODES[dtype]}`;

/** How a valid header is spelled: NumPy writes one style, other writers (and hand edits) others. */
export interface HeaderStyle {
  readonly quote: "'" | '"';
  /** Spaces after ':' and ','. */
  readonly space: string;
  readonly trailingComma: boolean;
  /** Key order: a permutation of [0, 1, 2] (descr, fortran_order, shape). */
  readonly keyOrder: readonly number[];
  /** Pad the preamble and header to a multiple of this (64 as NumPy does; 1 for none). */
  readonly align: number;
  readonly newline: boolean;
}

export const NUMPY_STYLE: HeaderStyle = { quote: "'", space: ' ', trailingComma: true, keyOrder: [0, 1, 2], align: 64, newline: true };

export const shapeText = (shape: readonly (number | bigint | string)[], space = ' '): string =>
  shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(`,${space}`)})`;

/** The header dict text for a valid file. */
export function headerText(descr: string, fortran: boolean, shape: readonly number[], style: HeaderStyle = NUMPY_STYLE): string {
  const q = style.quote;
  const s = style.space;
  const entries = [`${q}descr${q}:${s}${q}${descr}${q}`, `${q}fortran_order${q}:${s}${fortran ? 'True' : 'False'}`, `${q}shape${q}:${s}${shapeText(shape, s)}`];
  const body = style.keyOrder.map((i) => entries[i]!).join(`,${s}`);
  return `{${body}${style.trailingComma ? `,${s}` : ''}}`;
}

/** Preamble (magic, version, header length) + header text (padded) + data. */
export function npyFile(version: NpyVersion, text: string, data: Uint8Array, align = 64, newline = true): Uint8Array {
  const encoded = version === 3 ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
  const pre = version === 1 ? 10 : 12;
  let pad = 0;
  const extra = newline ? 1 : 0;
  while ((pre + encoded.length + pad + extra) % Math.max(1, align) !== 0) pad++;
  const headerLength = encoded.length + pad + extra;
  const out = new Uint8Array(pre + headerLength + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, Math.min(headerLength, 0xffff), true);
  else view.setUint32(8, headerLength, true);
  out.set(encoded, pre);
  out.fill(0x20, pre + encoded.length, pre + encoded.length + pad);
  if (newline) out[pre + headerLength - 1] = 0x0a;
  out.set(data, pre + headerLength);
  return out;
}

// ---------------------------------------------------------------------------
// The reference reader.

/** Ways smoothl1 is known to read more headers than NumPy does; see test/fuzz/README.md. */
export interface Leniency {
  /** Any character JavaScript's \s matches counts as white space (Python's tokenizer takes only ' ', \t, \f, \r, \n). */
  readonly jsSpace?: boolean;
  /** Decimal integers with leading zeros (`04`), which Python 3 refuses. */
  readonly leadingZeros?: boolean;
  /** The Python 2 `L` suffix in a version 3.0 header (NumPy drops it only in 1.0 and 2.0 headers). */
  readonly longSuffixV3?: boolean;
  /** 'shape' as a list `[3, 4]`, where NumPy demands a tuple. */
  readonly listShape?: boolean;
  /** Invalid UTF-8 in a version 3.0 header read with replacement characters, where Python's decoder refuses. */
  readonly badUtf8?: boolean;
  /**
   * A string read raw to its next quote, backslashes and line breaks and
   * all: Python reads a backslash as an escape (`'<f4\'` runs on past its
   * quote) and refuses a line break in a quoted string, syntax errors in
   * every such header the suite has met; smoothl1 takes the characters as
   * they are (a later duplicate key can then make the header valid).
   */
  readonly rawStrings?: boolean;
}

export const LENIENCIES: readonly (keyof Leniency)[] = ['jsSpace', 'leadingZeros', 'longSuffixV3', 'listShape', 'badUtf8', 'rawStrings'];

type Py = { t: 'str'; v: string } | { t: 'int'; v: bigint } | { t: 'bool'; v: boolean } | { t: 'none' } | { t: 'tuple' | 'list'; v: Py[] } | { t: 'dict'; v: Map<string, Py> };

class Reject extends Error {}

const PY_SPACE = new Set([' ', '\t', '\f', '\r', '\n']);

/** A Python literal (the subset above), as ast.literal_eval reads it. */
function parsePy(text: string, version: NpyVersion, lenient: Leniency): Py {
  let at = 0;
  const isSpace = (ch: string | undefined): boolean => ch !== undefined && (PY_SPACE.has(ch) || (lenient.jsSpace === true && /\s/.test(ch)));
  const skip = (): void => {
    while (isSpace(text[at])) at++;
  };
  const fail = (why: string): never => {
    throw new Reject(`${why} at ${at}`);
  };
  const expect = (ch: string): void => {
    skip();
    if (text[at] !== ch) fail(`expected ${ch}`);
    at++;
  };
  const value = (): Py => {
    skip();
    const ch = text[at];
    if (ch === '{') return dict();
    if (ch === '(') return paren();
    if (ch === '[') return { t: 'list', v: items('[', ']') };
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, at + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(at + 1, end);
      // Escapes and line ends inside strings: NumPy reads them differently, or refuses; so do we.
      if (/[\\\n\r]/.test(s) && lenient.rawStrings !== true) fail('string with escape or line end');
      at = end + 1;
      return { t: 'str', v: s };
    }
    for (const [word, v] of [
      ['True', { t: 'bool', v: true }],
      ['False', { t: 'bool', v: false }],
      ['None', { t: 'none' }],
    ] as const) {
      if (text.startsWith(word, at) && !/[\w]/.test(text[at + word.length] ?? '')) {
        at += word.length;
        return v;
      }
    }
    const m = /^([-+]?)(\d+)(L?)/.exec(text.slice(at));
    if (m === null) return fail('unexpected character');
    const [all, sign = '', digits = '', long = ''] = m;
    // A number glued to letters, dots or underscores is another literal (hex, float, 1_000), or an error.
    if (/[\w.]/.test(text[at + all.length] ?? '')) fail('not a plain integer');
    if (digits.length > 1 && digits.startsWith('0') && /[1-9]/.test(digits) && lenient.leadingZeros !== true) fail('leading zeros');
    if (long === 'L' && version === 3 && lenient.longSuffixV3 !== true) fail('L suffix in a 3.0 header');
    at += all.length;
    const n = BigInt(digits);
    return { t: 'int', v: sign === '-' ? -n : n };
  };
  const items = (open: string, close: string): Py[] => {
    expect(open);
    const out: Py[] = [];
    for (;;) {
      skip();
      if (text[at] === close) {
        at++;
        return out;
      }
      out.push(value());
      skip();
      if (text[at] === ',') at++;
      else if (text[at] !== close) fail(`expected , or ${close}`);
    }
  };
  const paren = (): Py => {
    const start = at;
    const v = items('(', ')');
    const trailingComma = /,[ \t\f\r\n]*\)$/.test(text.slice(start, at)) || (lenient.jsSpace === true && /,\s*\)$/.test(text.slice(start, at)));
    return v.length === 1 && !trailingComma ? v[0]! : { t: 'tuple', v };
  };
  const dict = (): Py => {
    expect('{');
    const out = new Map<string, Py>();
    for (;;) {
      skip();
      if (text[at] === '}') {
        at++;
        return { t: 'dict', v: out };
      }
      const key = value();
      if (key.t !== 'str') fail('non-string key');
      expect(':');
      out.set((key as { v: string }).v, value());
      skip();
      if (text[at] === ',') at++;
      else if (text[at] !== '}') fail('expected , or }');
    }
  };
  // literal_eval strips leading blanks; the tokenizer then takes leading line ends too.
  const v = value();
  skip();
  if (at !== text.length) fail('text after the literal');
  return v;
}

export interface NpyRef {
  readonly dtype: DType;
  readonly bigEndian: boolean;
  readonly shape: readonly number[];
  readonly fortran: boolean;
  readonly dataOffset: number;
  /** Bytes after the data (NumPy ignores them; smoothl1 refuses them). */
  readonly trailing: number;
  /** The elements as float64, in logical (C) order. */
  readonly values: Float64Array;
}

export type NpyVerdict = { readonly ok: true; readonly ref: NpyRef } | { readonly ok: false; readonly why: string };

/** At most this many elements are decoded (inputs here have fewer; a header may claim more). */
export const DECODE_LIMIT = 1 << 16;

/**
 * What NumPy's np.load would make of `bytes` (restricted to the dtypes
 * smoothl1 reads), or why it would refuse them. Never throws. With
 * `headerOnly`, the header's claims alone (shape and dtype; no values, and
 * the shape may be beyond any data).
 */
export function readNpyRef(bytes: Uint8Array, lenient: Leniency = {}, headerOnly = false): NpyVerdict {
  try {
    return { ok: true, ref: readOrThrow(bytes, lenient, headerOnly) };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, why: err.message };
    throw err;
  }
}

function readOrThrow(bytes: Uint8Array, lenient: Leniency, headerOnly: boolean): NpyRef {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Reject('bad magic');
  const major = bytes[6]!;
  if (bytes[7] !== 0 || (major !== 1 && major !== 2 && major !== 3)) throw new Reject('bad version');
  const version = major as NpyVersion;
  const pre = version === 1 ? 10 : 12;
  if (bytes.length < pre) throw new Reject('short preamble');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = version === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const end = pre + headerLength;
  if (bytes.length < end) throw new Reject('short header');
  const raw = bytes.subarray(pre, end);
  let text: string;
  if (version === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: lenient.badUtf8 !== true }).decode(raw);
    } catch {
      throw new Reject('invalid utf-8');
    }
    // Python keeps a leading BOM as a character (a syntax error); TextDecoder drops it.
    if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) text = `\ufeff${text}`;
  } else {
    text = Buffer.from(raw).toString('latin1');
  }
  // Python source cannot hold NUL.
  if (text.includes('\0')) throw new Reject('NUL in header');
  const dict = parsePy(text, version, lenient);
  if (dict.t !== 'dict') throw new Reject('not a dict');
  const keys = [...dict.v.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape') throw new Reject(`keys ${keys.join()}`);
  const descr = dict.v.get('descr')!;
  const fortranOrder = dict.v.get('fortran_order')!;
  const shapeValue = dict.v.get('shape')!;
  if (fortranOrder.t !== 'bool') throw new Reject('fortran_order not a bool');
  if (!(shapeValue.t === 'tuple' || (shapeValue.t === 'list' && lenient.listShape === true))) throw new Reject('shape not a tuple');
  const dims: bigint[] = [];
  for (const d of shapeValue.v) {
    // Python's bool is an int, and NumPy takes (True, 3); smoothl1 does not. Refusing is always allowed.
    if (d.t !== 'int') throw new Reject('shape holds a non-integer');
    if (d.v < 0n) throw new Reject('negative dimension');
    dims.push(d.v);
  }
  if (descr.t !== 'str') throw new Reject('descr not a string');
  const m = /^([<>|=]?)([biuf])0*([1248])$/.exec(descr.v);
  const dtype = m === null ? undefined : BY_CODE.get(`${m[2]}${m[3]}`);
  if (m === null || dtype === undefined) throw new Reject(`dtype ${descr.v}`);
  const count = dims.reduce((n, d) => n * d, 1n);
  const size = ITEM_BYTES[dtype];
  const available = BigInt(bytes.length - end);
  const shape = dims.map(Number);
  if (headerOnly) return { dtype, bigEndian: m[1] === '>', shape, fortran: false, dataOffset: end, trailing: 0, values: new Float64Array(0) };
  if (count * BigInt(size) > available) throw new Reject('data shorter than the shape');
  const n = Number(count);
  const fortran = fortranOrder.v && shape.length > 1;
  const bigEndian = m[1] === '>';
  return {
    dtype,
    bigEndian,
    shape,
    fortran,
    dataOffset: end,
    trailing: bytes.length - end - n * size,
    values: n <= DECODE_LIMIT ? decode(bytes.subarray(end), dtype, bigEndian, shape, fortran) : new Float64Array(0),
  };
}

/** Where C-order element i sits in a Fortran-ordered buffer. */
function fortranIndex(i: number, shape: readonly number[]): number {
  let offset = 0;
  let stride = 1;
  let rest = i;
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = rest % shape[axis]!;
    rest = Math.floor(rest / shape[axis]!);
  }
  for (let axis = 0; axis < shape.length; axis++) {
    offset += index[axis]! * stride;
    stride *= shape[axis]!;
  }
  return offset;
}

/** The elements of a data block in logical (C) order. */
export function decode(data: Uint8Array, dtype: DType, bigEndian: boolean, shape: readonly number[], fortran: boolean): Float64Array {
  const count = shape.reduce((n, d) => n * d, 1);
  const size = ITEM_BYTES[dtype];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = elementAt(view, size * (fortran ? fortranIndex(i, shape) : i), dtype, !bigEndian);
  return out;
}

/** Which single leniency, if any, makes the reference accept what it refuses strictly. */
export function lenientVerdict(bytes: Uint8Array): { readonly leniency: keyof Leniency; readonly ref: NpyRef } | undefined {
  for (const name of LENIENCIES) {
    const v = readNpyRef(bytes, { [name]: true });
    if (v.ok) return { leniency: name, ref: v.ref };
  }
  const all = readNpyRef(bytes, Object.fromEntries(LENIENCIES.map((k) => [k, true])));
  return all.ok ? { leniency: LENIENCIES.join('+') as keyof Leniency, ref: all.ref } : undefined;
}
