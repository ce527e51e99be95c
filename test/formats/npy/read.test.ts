import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { promises as fsp, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as npyjsParse } from 'npyjs';
import { SmoothL1Error } from '../../../src/tensor/errors.js';
import { checkDataLength, hasNpyMagic, npyFileSource, npyHeaderEnd, parseDescr, parseNpyHeader } from '../../../src/formats/npy/read.js';
import type { DType } from '../../../src/tensor/tensor.js';
import { ITEM_BYTES } from '../../helpers/reference.js';
import { npyBytes } from '../../helpers/make-npy.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const FIXTURES = join(ROOT, 'fixtures');
const CONFORMANCE = '/work/shared/fixtures/conformance';

/**
 * An .npy preamble and header around `text`, written by hand after NEP 1:
 * magic, version, a little-endian header length of 2 bytes (1.0) or 4 bytes
 * (2.0, 3.0), then the text, padded with spaces and '\n' to 64 bytes.
 */
function rawNpy(text: string, { major = 1, minor = 0, data = new Uint8Array(0), latin1 = false } = {}): Uint8Array {
  const lengthBytes = major === 1 ? 2 : 4;
  const encoded = latin1 ? Uint8Array.from(text, (ch) => ch.charCodeAt(0)) : new TextEncoder().encode(text);
  const unpadded = 8 + lengthBytes + encoded.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const headerLength = padded - 8 - lengthBytes;
  const out = new Uint8Array(padded + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, minor]);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.fill(0x20, 8 + lengthBytes, padded - 1);
  out.set(encoded, 8 + lengthBytes);
  out[padded - 1] = 0x0a;
  out.set(data, padded);
  return out;
}

const dict = (descr: string, shape: string, fortran = 'False'): string =>
  `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

/** Runs fn and returns the SmoothL1Error it must throw. */
function smoothL1Error(t: ExecutionContext, fn: () => unknown): SmoothL1Error {
  const err = t.throws(fn, { instanceOf: SmoothL1Error });
  if (!(err instanceof SmoothL1Error)) throw new Error('unreachable: t.throws checked the class');
  return err;
}

// ------------------------------------------------------------------ fixtures

// Dtype, shape and order of each fixture, as np.load reports them
// (a.dtype, a.shape, a.flags['F_CONTIGUOUS'] and not a.flags['C_CONTIGUOUS']).
const FIXTURE_HEADERS: Readonly<Record<string, { dtype: DType; big: boolean; shape: number[]; fortran: boolean; major: number }>> = {
  'b1-3x4.npy': { dtype: 'bool', big: false, shape: [3, 4], fortran: false, major: 1 },
  'f4-c-5x7.npy': { dtype: 'float32', big: false, shape: [5, 7], fortran: false, major: 1 },
  'f4-fortran-5x7.npy': { dtype: 'float32', big: false, shape: [5, 7], fortran: true, major: 1 },
  'f4-v3-3x4.npy': { dtype: 'float32', big: false, shape: [3, 4], fortran: false, major: 3 },
  'f8-be-3x4.npy': { dtype: 'float64', big: true, shape: [3, 4], fortran: false, major: 1 },
  'f8-le-3x4.npy': { dtype: 'float64', big: false, shape: [3, 4], fortran: false, major: 1 },
  'i8-3x4.npy': { dtype: 'int64', big: false, shape: [3, 4], fortran: false, major: 1 },
  'u8-3x4.npy': { dtype: 'uint64', big: false, shape: [3, 4], fortran: false, major: 1 },
};

for (const [name, want] of Object.entries(FIXTURE_HEADERS)) {
  test(`fixture ${name}: header as NumPy reads it, and the data exactly as long as promised`, (t) => {
    const path = join(FIXTURES, name);
    const bytes = readFileSync(path);
    t.is(bytes[6], want.major);
    const layout = parseNpyHeader(path, bytes);
    t.deepEqual(layout.header, {
      file: path,
      dtype: want.dtype,
      byteOrder: want.big ? 'big' : 'little',
      shape: want.shape,
      fortranOrder: want.fortran,
    });
    t.is(layout.dataOffset % 16, 0, 'NEP 1: data is aligned');
    t.is(npyHeaderEnd(path, bytes), layout.dataOffset);
    t.notThrows(() => checkDataLength(layout, bytes.length));
  });
}

test('on little-endian fixtures the header agrees with npyjs (dtype, shape, order)', (t) => {
  const NPYJS_DTYPE: Readonly<Record<string, DType>> = { b1: 'bool', f4: 'float32', f8: 'float64', i8: 'int64', u8: 'uint64' };
  for (const [name, want] of Object.entries(FIXTURE_HEADERS)) {
    if (want.big) continue;
    const bytes = readFileSync(join(FIXTURES, name));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const oracle = npyjsParse(ab);
    const { header } = parseNpyHeader(name, bytes);
    t.is(NPYJS_DTYPE[oracle.dtype], header.dtype, name);
    t.deepEqual([...header.shape], oracle.shape, name);
    t.is(header.fortranOrder, oracle.fortranOrder, name);
  }
});

test('npy version 2.0 header (conformance npy_v2_header)', (t) => {
  const path = join(CONFORMANCE, 'npy_v2_header.input.npy');
  const bytes = readFileSync(path);
  t.is(bytes[6], 2);
  const layout = parseNpyHeader(path, bytes);
  t.is(layout.dataOffset, 12 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true));
  t.is(layout.header.dtype, 'float32');
  t.notThrows(() => checkDataLength(layout, bytes.length));
});

test('npyFileSource hands out byte ranges that hold the elements npyjs reads', async (t) => {
  const path = join(FIXTURES, 'f8-le-3x4.npy');
  const bytes = readFileSync(path);
  const oracle = npyjsParse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const layout = parseNpyHeader(path, bytes);
  const handle = await fsp.open(path, 'r');
  const source = npyFileSource(layout, handle);
  try {
    t.is(source.header, layout.header);
    const chunk = await source.chunk(5, 4);
    if (chunk.kind !== 'range') return t.fail('a seekable file gives range chunks');
    t.is(chunk.fd, handle.fd);
    t.is(chunk.byteLength, 4 * 8);
    t.is(chunk.pieces.length, 1);
    const got = new Uint8Array(chunk.byteLength);
    await handle.read(got, 0, chunk.byteLength, chunk.pieces[0]?.position);
    if (!(oracle.data instanceof Float64Array)) return t.fail('npyjs reads <f8 as a Float64Array');
    t.deepEqual(Array.from(new Float64Array(got.buffer)), Array.from(oracle.data).slice(5, 9));
  } finally {
    await source.close();
  }
});

// ------------------------------------------------------------------ conformance error files

test('conformance err_badmagic.npy: bad magic', (t) => {
  const bytes = readFileSync(join(CONFORMANCE, 'err_badmagic.npy'));
  t.false(hasNpyMagic(bytes));
  t.regex(smoothL1Error(t, () => parseNpyHeader('err_badmagic.npy', bytes)).reason, /magic/);
});

test('conformance err_empty_file.npy: zero bytes are not an .npy', (t) => {
  const bytes = readFileSync(join(CONFORMANCE, 'err_empty_file.npy'));
  t.is(bytes.length, 0);
  t.false(hasNpyMagic(bytes));
  smoothL1Error(t, () => parseNpyHeader('err_empty_file.npy', bytes));
});

test("conformance err_badheader.npy: a dict without 'descr'", (t) => {
  const bytes = readFileSync(join(CONFORMANCE, 'err_badheader.npy'));
  t.regex(smoothL1Error(t, () => parseNpyHeader('err_badheader.npy', bytes)).reason, /malformed .* 'descr'/);
});

test('conformance err_complex.npy and err_str.npy: unsupported dtypes', (t) => {
  const complex = readFileSync(join(CONFORMANCE, 'err_complex.npy'));
  t.regex(smoothL1Error(t, () => parseNpyHeader('c.npy', complex)).reason, /^complex dtype unsupported/);
  const str = readFileSync(join(CONFORMANCE, 'err_str.npy'));
  t.regex(smoothL1Error(t, () => parseNpyHeader('s.npy', str)).reason, /^string dtype unsupported/);
});

test('conformance err_truncated.npy and err_trailing.npy: data shorter or longer than the header promises', (t) => {
  for (const [name, pattern] of [
    ['err_truncated.npy', /shorter/],
    ['err_trailing.npy', /longer/],
  ] as const) {
    const path = join(CONFORMANCE, name);
    const layout = parseNpyHeader(path, readFileSync(path));
    const err = smoothL1Error(t, () => checkDataLength(layout, statSync(path).size));
    t.regex(err.reason, pattern);
    t.is(err.file, path);
  }
});

// ------------------------------------------------------------------ versions and preamble

test('header length is 2 bytes in version 1.0 and 4 bytes in 2.0 and 3.0', (t) => {
  for (const major of [1, 2, 3]) {
    const bytes = rawNpy(dict("'<f4'", '(2, 3)'), { major, data: new Uint8Array(24) });
    const layout = parseNpyHeader('v.npy', bytes);
    t.is(layout.dataOffset, bytes.length - 24, `version ${major}`);
    t.is(layout.dataOffset % 64, 0);
    t.deepEqual(layout.header.shape, [2, 3]);
    t.notThrows(() => checkDataLength(layout, bytes.length));
  }
});

test('version 3.0 headers are UTF-8; 1.0 and 2.0 headers are latin-1 (NEP 1)', (t) => {
  // The error for an unknown descr quotes it, which shows how the header text was decoded.
  const text = dict("'<fé'", '(4,)');
  for (const [major, latin1] of [
    [1, true],
    [2, true],
    [3, false],
  ] as const) {
    const err = smoothL1Error(t, () => parseNpyHeader('u.npy', rawNpy(text, { major, latin1 })));
    t.true(err.reason.includes("(<fé)"), `version ${major}: ${err.reason}`);
  }
  // Multi-byte UTF-8 in a version 3.0 header decodes whole (NumPy refuses the extra key, and so do we).
  const bytes = rawNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), '€€€': 1}", { major: 3, data: new Uint8Array(8) });
  const err = smoothL1Error(t, () => parseNpyHeader('u.npy', bytes));
  t.true(err.reason.includes("unexpected key '€€€'"), err.reason);
});

test('unsupported versions are refused, naming the version', (t) => {
  for (const [major, minor] of [
    [0, 0],
    [4, 0],
    [255, 1],
  ] as const) {
    const bytes = rawNpy(dict("'<f4'", '(1,)'), { major, minor });
    const err = smoothL1Error(t, () => parseNpyHeader('bad.npy', bytes));
    t.regex(err.reason, new RegExp(`version ${major}\\.${minor}`));
    t.is(err.file, 'bad.npy');
  }
});

test('bad magic bytes are refused, whatever follows', (t) => {
  const good = rawNpy(dict("'<f4'", '(1,)'));
  for (let i = 0; i < 6; i++) {
    const bytes = good.slice();
    bytes[i] = bytes[i]! ^ 0x20;
    t.false(hasNpyMagic(bytes));
    t.regex(smoothL1Error(t, () => parseNpyHeader('m.npy', bytes)).reason, /magic/);
  }
  t.true(hasNpyMagic(good));
  t.false(hasNpyMagic(good.subarray(0, 5)));
});

test('npyHeaderEnd needs 12 bytes to know, and returns where the data starts', (t) => {
  const bytes = rawNpy(dict("'<f8'", '(3,)'));
  for (let n = 6; n < 12; n++) t.is(npyHeaderEnd('e.npy', bytes.subarray(0, n)), undefined, `${n} bytes`);
  t.is(npyHeaderEnd('e.npy', bytes.subarray(0, 12)), bytes.length);
  const v2 = rawNpy(dict("'<f8'", '(3,)'), { major: 2 });
  t.is(npyHeaderEnd('e.npy', v2.subarray(0, 12)), v2.length);
});

test('a file that ends inside its header is refused', (t) => {
  const bytes = rawNpy(dict("'<f8'", '(3,)'));
  for (const n of [12, 40, 63]) {
    t.regex(smoothL1Error(t, () => parseNpyHeader('short.npy', bytes.subarray(0, n))).reason, /ends inside/);
  }
});

// ------------------------------------------------------------------ the header dict

test('fortran_order is kept only when more than one axis is longer than 1', (t) => {
  const cases: readonly (readonly [string, boolean])[] = [
    ['(2, 3)', true],
    ['(2, 1, 3)', true],
    ['(3,)', false],
    ['(1, 5)', false],
    ['(5, 1, 1)', false],
    ['()', false],
    ['(0, 3)', false],
    ['(1, 1)', false],
  ];
  for (const [shape, fortran] of cases) {
    t.is(parseNpyHeader('f.npy', rawNpy(dict("'<f4'", shape, 'True'))).header.fortranOrder, fortran, shape);
    t.false(parseNpyHeader('c.npy', rawNpy(dict("'<f4'", shape, 'False'))).header.fortranOrder, shape);
  }
});

test('shapes: 0-d, empty axes and many axes', (t) => {
  t.deepEqual(parseNpyHeader('s.npy', rawNpy(dict("'<f4'", '()'))).header.shape, []);
  t.deepEqual(parseNpyHeader('s.npy', rawNpy(dict("'<f4'", '(0,)'))).header.shape, [0]);
  t.deepEqual(parseNpyHeader('s.npy', rawNpy(dict("'<f4'", '(2, 0, 3)'))).header.shape, [2, 0, 3]);
  t.deepEqual(parseNpyHeader('s.npy', rawNpy(dict("'<f4'", '(1, 2, 3, 4, 5, 6, 7, 8)'))).header.shape, [1, 2, 3, 4, 5, 6, 7, 8]);
});

const MALFORMED: readonly (readonly [string, string, RegExp])[] = [
  ['not a literal', 'garbage', /malformed/],
  ['unterminated dict', "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", /malformed/],
  ['a list, not a dict', "['<f4', False, (3,)]", /not a dict/],
  ['a string, not a dict', "'<f4'", /not a dict/],
  ['None', 'None', /not a dict/],
  ["no 'descr'", "{'fortran_order': False, 'shape': (3,)}", /'descr'/],
  ["no 'fortran_order'", "{'descr': '<f4', 'shape': (3,)}", /'fortran_order'/],
  ["'fortran_order' not a bool", "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", /'fortran_order'/],
  ["no 'shape'", "{'descr': '<f4', 'fortran_order': False}", /'shape'/],
  ["'shape' an integer", "{'descr': '<f4', 'fortran_order': False, 'shape': 3}", /'shape'/],
  ['negative dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1)}", /dimension/],
  ['boolean dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}", /dimension/],
  ['string dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': ('3',)}", /dimension/],
  ['unsafe dimension', "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", /dimension/],
  ['too many elements', "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", /too large/],
  ["'descr' an integer", "{'descr': 4, 'fortran_order': False, 'shape': (3,)}", /'descr' must be a string/],
  ["'descr' not a dtype", "{'descr': '??', 'fortran_order': False, 'shape': (3,)}", /unknown dtype/],
];

for (const [what, text, reason] of MALFORMED) {
  test(`malformed header refused: ${what}`, (t) => {
    const err = smoothL1Error(t, () => parseNpyHeader('h.npy', rawNpy(text)));
    t.regex(err.reason, reason);
    t.is(err.file, 'h.npy');
  });
}

test("a '__proto__' entry does not stand in for the header's own keys", (t) => {
  // NumPy refuses this header: its keys are not exactly descr, fortran_order
  // and shape. parseNpyHeader accepts it as a float32 (3,) tensor, because
  // parsePyLiteral turns the '__proto__' entry into the dict's prototype
  // (see test/py-literal.test.ts).
  const text = "{'__proto__': {'descr': '<f4', 'fortran_order': False, 'shape': (3,)}}";
  smoothL1Error(t, () => parseNpyHeader('p.npy', rawNpy(text)));
});

// ------------------------------------------------------------------ descr

// np.dtype(name).str for each supported dtype, and its big-endian form.
const DESCRS: readonly (readonly [string, DType, 'little' | 'big'])[] = [
  ['|b1', 'bool', 'little'],
  ['|i1', 'int8', 'little'],
  ['|u1', 'uint8', 'little'],
  ['<i2', 'int16', 'little'],
  ['<u2', 'uint16', 'little'],
  ['<i4', 'int32', 'little'],
  ['<u4', 'uint32', 'little'],
  ['<i8', 'int64', 'little'],
  ['<u8', 'uint64', 'little'],
  ['<f2', 'float16', 'little'],
  ['<f4', 'float32', 'little'],
  ['<f8', 'float64', 'little'],
  ['>i2', 'int16', 'big'],
  ['>u4', 'uint32', 'big'],
  ['>i8', 'int64', 'big'],
  ['>f2', 'float16', 'big'],
  ['>f4', 'float32', 'big'],
  ['>f8', 'float64', 'big'],
  ['=f8', 'float64', 'little'],
];

for (const [descr, dtype, byteOrder] of DESCRS) {
  test(`descr '${descr}' is ${byteOrder}-endian ${dtype}`, (t) => {
    t.deepEqual(parseDescr('d.npy', descr), { dtype, byteOrder });
    const layout = parseNpyHeader('d.npy', rawNpy(dict(`'${descr}'`, '(2,)')));
    t.is(layout.header.dtype, dtype);
    t.is(layout.header.byteOrder, byteOrder);
  });
}

// Descrs of dtypes smoothl1 refuses, as np.dtype(...).descr / .str write them.
const UNSUPPORTED: readonly (readonly [string, RegExp])[] = [
  ["'<c8'", /^complex dtype unsupported/],
  ["'<c16'", /^complex dtype unsupported/],
  ["'<U5'", /^string dtype unsupported/],
  ["'|S3'", /^string dtype unsupported/],
  ["'|O'", /^object dtype unsupported/],
  ["'|V8'", /^structured dtype unsupported/],
  ["[('a', '<f4'), ('b', '<i8')]", /^structured dtype unsupported/],
  ["'<M8[ns]'", /^datetime dtype unsupported/],
  ["'<m8[s]'", /^timedelta dtype unsupported/],
  ["'<f16'", /dtype unsupported/],
  ["'<i3'", /dtype unsupported/],
  ["'<f4x'", /dtype unsupported/],
  ["'|b2'", /dtype unsupported/],
];

for (const [descr, reason] of UNSUPPORTED) {
  test(`descr ${descr} is refused`, (t) => {
    const err = smoothL1Error(t, () => parseNpyHeader('u.npy', rawNpy(dict(descr, '(2,)'))));
    t.regex(err.reason, reason);
    t.is(err.file, 'u.npy');
  });
}

// ------------------------------------------------------------------ data length

testProp(
  'checkDataLength accepts exactly elements × item size after the header, and names the shortfall or excess',
  [fc.constantFrom(...DESCRS), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }), fc.integer({ min: -20, max: 20 })],
  (t, [descr, dtype], shape, extra) => {
    const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    const layout = parseNpyHeader('l.npy', rawNpy(dict(`'${descr}'`, tuple)));
    const expected = shape.reduce((n, d) => n * d, 1) * ITEM_BYTES[dtype];
    fc.pre(expected + extra >= 0);
    const fileSize = layout.dataOffset + expected + extra;
    if (extra === 0) {
      t.notThrows(() => checkDataLength(layout, fileSize));
      return;
    }
    const err = smoothL1Error(t, () => checkDataLength(layout, fileSize));
    t.regex(err.reason, extra < 0 ? /shorter/ : /longer/);
    t.true(err.reason.includes(`expected ${expected} bytes, found ${expected + extra}`), err.reason);
  },
  { numRuns: 200 },
);

// NumPy arrays have at most 64 axes (NPY_MAXDIMS); np.load refuses more,
// and so do we, with a clear line, rather than work through a header that
// claims thousands.
test('more than 64 dimensions are refused as NumPy refuses them; 64 are read', (t) => {
  const header = (ndim: number): Uint8Array => npyBytes('float32', new Array<number>(ndim).fill(1), new Uint8Array(4));
  t.deepEqual(parseNpyHeader('64.npy', header(64)).header.shape.length, 64);
  const err = t.throws(() => parseNpyHeader('65.npy', header(65)), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'unsupported');
  t.regex(err?.reason ?? '', /65 dimensions; NumPy arrays have at most 64/);
});
