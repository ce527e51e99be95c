import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SmoothL1Error, type ErrorCode } from '../../src/tensor/errors.js';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import type { LossOptions } from '../../src/pipeline/options.js';
import { parseNpyHeader } from '../../src/formats/npy/read.js';
import { FIXTURES } from '../helpers/cli.js';
import { readNpyFile, readNpyValues } from '../helpers/npy.js';
import { accurateSum, referenceLoss } from '../helpers/random-tensor.js';
import { closeToExactSum, PARTIAL_ERROR } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

const F = `${FIXTURES}f4-fortran-5x7.npy`;
const C = `${FIXTURES}f4-c-5x7.npy`;

/** The reference loss of two small float .npy files, paired by logical index. */
function expectedLosses(input: string, label: string): Float64Array {
  const a = Float64Array.from(readNpyFile(input).values);
  const b = Float64Array.from(readNpyFile(label).values);
  return referenceLoss(a, b, 1, true);
}

for (const [input, label] of [
  [F, C],
  [C, F],
] as const) {
  test(`a Fortran-ordered and a C-ordered input pair by logical index (${input.includes('fortran') ? 'F, C' : 'C, F'})`, async (t) => {
    const out = join(tempDir(t), 'z.npy');
    const summary = await smoothL1Loss(input, label, { reduction: 'none', output: out, threads: 2, chunkElements: 4096, poolMinElements: 0 });
    t.deepEqual(summary.shape, [5, 7]);
    const got = readNpyFile(out).values;
    const want = Array.from(expectedLosses(input, label), (x) => Math.fround(x));
    t.deepEqual(got, want);
    const mean = await smoothL1Loss(input, label, {});
    t.is(mean.value, Math.fround(accurateSum(expectedLosses(input, label)) / 35));
  });
}

test('two Fortran-ordered inputs give a Fortran-ordered output that reads back as the same array', async (t) => {
  const out = join(tempDir(t), 'z.npy');
  await smoothL1Loss(F, F, { reduction: 'none', output: out });
  const written = readNpyValues(readFileSync(out));
  t.true(written.layout.header.fortranOrder);
  t.deepEqual(written.values, new Array<number>(35).fill(0));
});

test('reordering a Fortran input above the limit is refused with advice', async (t) => {
  const err = await t.throwsAsync(smoothL1Loss(F, C, { reorderLimitBytes: 100 }), { instanceOf: SmoothL1Error });
  t.is(err?.file, F);
  t.regex(err?.reason ?? '', /Fortran-ordered.*np\.ascontiguousarray/);
});

test('the library refuses a non-positive or non-finite delta itself', async (t) => {
  for (const delta of [0, -1, NaN, Infinity]) {
    await t.throwsAsync(smoothL1Loss(C, C, { delta }), { instanceOf: SmoothL1Error, message: /delta/ });
  }
});

test('integer, bool and big-endian fixtures give the reference loss', async (t) => {
  // float64 big-endian vs little-endian copies of the same values: zero loss.
  const same = await smoothL1Loss(`${FIXTURES}f8-be-3x4.npy`, `${FIXTURES}f8-le-3x4.npy`, { reduction: 'sum' });
  t.is(same.value, 0);
  t.is(same.dtype, 'float64');
  const ints = await smoothL1Loss(`${FIXTURES}i8-3x4.npy`, `${FIXTURES}u8-3x4.npy`, { reduction: 'sum' });
  t.is(ints.dtype, 'float64');
  const int64s = (file: string, signed: boolean): Float64Array => {
    const bytes = readFileSync(`${FIXTURES}${file}`);
    const { dataOffset } = parseNpyHeader(file, bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset);
    return Float64Array.from({ length: 12 }, (_, i) => Number(signed ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true)));
  };
  const intLosses = referenceLoss(int64s('i8-3x4.npy', true), int64s('u8-3x4.npy', false), 1, true);
  t.true(closeToExactSum(ints.value ?? NaN, intLosses, PARTIAL_ERROR), `${ints.value} vs ${accurateSum(intLosses)}`);
  const bools = await smoothL1Loss(`${FIXTURES}b1-3x4.npy`, `${FIXTURES}b1-3x4.npy`, {});
  t.is(bools.dtype, 'float16');
  t.is(bools.value, 0);
});

// Library users match failures on `code`, never on message text: each case
// below is a different kind of failure and must keep its code.
test('every kind of failure reaches library users as a SmoothL1Error with its stable code', async (t) => {
  const dir = tempDir(t);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a tensor at all\n');
  const badHeader = join(dir, 'bad.npy');
  writeFileSync(badHeader, Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 10, 0]), Buffer.from("{'descr':\n")]));
  const short = join(dir, 'short.npy');
  writeFileSync(short, readFileSync(C).subarray(0, readFileSync(C).length - 4));
  // What a caller without TypeScript can pass.
  const plainJsOptions: Partial<LossOptions> = JSON.parse(`{"reduction": "none", "output": ${JSON.stringify(join(dir, 'x.out'))}, "format": "NPY"}`);
  const cases: readonly [ErrorCode, () => Promise<unknown>, string][] = [
    ['usage', () => smoothL1Loss(C, C, { delta: 0 }), 'delta 0'],
    ['usage', () => smoothL1Loss(C, C, { output: join(dir, 'o.arrow') }), 'a mean written as Arrow'],
    ['io', () => smoothL1Loss(join(dir, 'missing.npy'), C), 'a missing input'],
    ['not-a-tensor', () => smoothL1Loss(text, C), 'a text file'],
    ['bad-header', () => smoothL1Loss(badHeader, C), 'a malformed .npy header'],
    ['data-length', () => smoothL1Loss(short, C), 'data shorter than the header says'],
    ['shape-mismatch', () => smoothL1Loss(C, `${FIXTURES}f8-le-3x4.npy`), 'shapes (5,7) and (3,4)'],
    ['key', () => smoothL1Loss(C, C, { inputColumn: 'x' }), 'a column asked of an .npy'],
    ['unsupported', () => smoothL1Loss(F, C, { reorderLimitBytes: 100 }), 'a Fortran input too large to reorder'],
    ['output', () => smoothL1Loss(C, C, { output: join(dir, 'no-such-dir', 'o.npy') }), 'an output in a missing directory'],
    ['usage', () => smoothL1Loss(C, C, plainJsOptions), 'a --format name no format has, from plain JavaScript'],
  ];
  for (const [code, run, what] of cases) {
    const err = await t.throwsAsync(run(), { instanceOf: SmoothL1Error }, what);
    t.is(err?.code, code, what);
  }
});
