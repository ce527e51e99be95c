/**
 * Byte offsets past 2^31 and 2^32 and element counts past 2^32, through the
 * real CLI, on sparse .npy files of more than 4 GiB each. The files are
 * holes (zeros, costing no disk) with a few known values written by position
 * at the start, on both sides of bytes 2^31 and 2^32, of element 2^32 and
 * near the end, so the answer is known exactly: the sum of those few element
 * losses. Each run reads its whole pair (the kernel zero-fills every page of
 * a hole), and the `none` run writes 4 GiB of real disk (an output is not
 * sparse): this is the slowest file of the suite (the README's Development
 * section gives its time).
 */
import test, { type ExecutionContext } from 'ava';
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { npyBytes } from '../helpers/make-npy.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

type HugeDType = 'float32' | 'uint8';
type ResultDType = 'float32' | 'float16';

const ITEM: Readonly<Record<HugeDType, number>> = { float32: 4, uint8: 1 };

/** One element of both files: everything not listed is a hole, i.e. 0 in both. */
interface Site {
  readonly index: number;
  readonly input: number;
  readonly label: number;
}

interface HugeCase {
  readonly name: string;
  readonly dtype: HugeDType;
  /** np.result_type(dtype, dtype, float16): the dtype the CLI rounds and prints in. */
  readonly result: ResultDType;
  readonly elements: number;
  readonly sites: readonly Site[];
  /**
   * What NumPy 2.4.6 prints for the exact sum and mean rounded to `result`
   * (`str(np.float32(511.125 / n))`, …). The test also checks that each
   * text reads back to the value computed here from the sites, so changing
   * a site without updating the text fails loudly.
   */
  readonly printed: { readonly sum: string; readonly mean: string };
}

/** Every case here has a 128-byte .npy header (asserted below): element i starts at byte 128 + i·item. */
const HEADER_BYTES = 128;

/** The element that starts at byte `offset` of a file of `dtype`. */
function elementAtByte(offset: number, dtype: HugeDType): number {
  const index = (offset - HEADER_BYTES) / ITEM[dtype];
  if (!Number.isInteger(index)) throw new Error(`no ${dtype} element starts at byte ${offset}`);
  return index;
}

// (a) float32, 2^30 + 2^20 + 123 elements: 4 GiB + 4 MiB + 620 bytes per file,
// not a whole number of 4096-element blocks. Losses are distinct powers of two
// (|d| = 2^k + 0.5 with delta 1), so a wrong sum says which site went missing.
const A_N = 2 ** 30 + 2 ** 20 + 123;
const FLOAT32: HugeCase = {
  name: 'float32 pair of 4 GiB + 4 MiB per file (bytes past 2^32)',
  dtype: 'float32',
  result: 'float32',
  elements: A_N,
  sites: [
    { index: 0, input: 1.5, label: 0 }, // 1
    { index: elementAtByte(2 ** 31, 'float32') - 1, input: 0, label: 2.5 }, // 2: ends at byte 2^31
    { index: elementAtByte(2 ** 31, 'float32'), input: 4.5, label: 0 }, // 4: starts at byte 2^31
    { index: elementAtByte(2 ** 32, 'float32') - 1, input: -8.5, label: 0 }, // 8: ends at byte 2^32
    { index: elementAtByte(2 ** 32, 'float32'), input: 0, label: -16.5 }, // 16: starts at byte 2^32
    { index: 2 ** 30 - 1, input: 32.5, label: 0 }, // 32
    { index: 2 ** 30, input: 100, label: 35.5 }, // 64
    { index: A_N - 4, input: 0.5, label: 0 }, // 0.125: the quadratic branch
    { index: A_N - 3, input: 1000, label: 1000 }, // 0: pairs only with the label's same element
    { index: A_N - 2, input: 0, label: 128.5 }, // 128
    { index: A_N - 1, input: 256.5, label: 0 }, // 256: the last element
  ],
  printed: { sum: '511.125', mean: '4.7555778e-07' },
};

/**
 * (b) uint8, 2^32 + 2^20 + 77 elements (element indices past 2^32). The
 * result is float16, whose ulp at the sum (9560) is 8: every loss here is
 * far above that, so a missing or misplaced element changes the printed
 * sum. Runs of 8 elements straddle bytes 2^31 and 2^32 and element 2^32.
 */
const B_N = 2 ** 32 + 2 ** 20 + 77;
/** Losses 6 × 254.5 + 194.5 + 190.5 = 1912 a run (|d| - 0.5 with delta 1). */
const RUN: readonly (readonly [number, number])[] = [
  [255, 0],
  [0, 255],
  [255, 0],
  [204, 9],
  [0, 255],
  [255, 0],
  [9, 200],
  [0, 255],
];
const runAt = (first: number): Site[] => RUN.map(([input, label], k) => ({ index: first + k, input, label }));
const UINT8: HugeCase = {
  name: 'uint8 pair of 2^32 + 2^20 + 77 elements (indices past 2^32)',
  dtype: 'uint8',
  result: 'float16',
  elements: B_N,
  sites: [
    ...runAt(0),
    ...runAt(elementAtByte(2 ** 31, 'uint8') - 4),
    ...runAt(elementAtByte(2 ** 32, 'uint8') - 4),
    ...runAt(2 ** 32 - 4),
    ...runAt(B_N - RUN.length),
  ],
  printed: { sum: '9.56e+03', mean: '2.2e-06' },
};

/** Paddle's SmoothL1Loss element, delta 1, in float64: written out here, not taken from src/. */
function elementLoss(input: number, label: number): number {
  const d = input - label;
  const a = Math.abs(d);
  return a < 1 ? 0.5 * d * d : a - 0.5;
}

const roundHalfEven = (x: number): number => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** The nearest float16 to x ≥ 0 (ties to even), as a number. */
function toFloat16(x: number): number {
  if (x === 0) return 0;
  let e = Math.floor(Math.log2(x));
  if (2 ** e > x) e -= 1;
  else if (2 ** (e + 1) <= x) e += 1;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const r = roundHalfEven(x / ulp) * ulp;
  return r >= 65520 ? Infinity : r;
}

const roundTo = (dtype: ResultDType, x: number): number => (dtype === 'float32' ? Math.fround(x) : toFloat16(x));

/** The exact sum (all losses are small dyadic numbers) and the mean rounded to the result dtype. */
function expected(c: HugeCase): { sum: number; mean: number } {
  const sum = c.sites.reduce((s, site) => s + elementLoss(site.input, site.label), 0);
  return { sum: roundTo(c.result, sum), mean: roundTo(c.result, sum / c.elements) };
}

function encode(dtype: HugeDType, value: number): Uint8Array {
  const bytes = new Uint8Array(ITEM[dtype]);
  if (dtype === 'float32') new DataView(bytes.buffer).setFloat32(0, value, true);
  else bytes[0] = value;
  return bytes;
}

/** A sparse .npy: the header, ftruncate to full size, then the nonzero values written by position. */
function writeSparseNpy(path: string, dtype: HugeDType, elements: number, values: ReadonlyMap<number, number>): void {
  const header = npyBytes(dtype, [elements], new Uint8Array(0));
  if (header.length !== HEADER_BYTES) throw new Error(`header of ${header.length} bytes, the sites assume ${HEADER_BYTES}`);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    ftruncateSync(fd, header.length + elements * ITEM[dtype]);
    for (const [index, value] of values) {
      if (value !== 0) writeSync(fd, encode(dtype, value), 0, ITEM[dtype], header.length + index * ITEM[dtype]);
    }
    const allocated = fstatSync(fd).blocks * 512;
    if (allocated > 64 * MiB) throw new Error(`${path} is not sparse: ${allocated} bytes allocated`);
  } finally {
    closeSync(fd);
  }
}

/** undefined when `dir` holds sparse files past 4 GiB; else why not. */
function sparseProblem(dir: string): string | undefined {
  const probe = join(dir, 'probe');
  try {
    const fd = openSync(probe, 'w');
    try {
      ftruncateSync(fd, 5 * GiB);
      writeSync(fd, Uint8Array.of(1), 0, 1, 5 * GiB - 1);
      const allocated = fstatSync(fd).blocks * 512;
      if (allocated > 64 * MiB) return `${dir} does not keep files sparse (${allocated} bytes allocated for a 5 GiB hole)`;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `cannot make a 5 GiB sparse file in ${dir}: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    rmSync(probe, { force: true });
  }
  return undefined;
}

const DIR = mkdtempSync(join(tmpdir(), 'smoothl1-huge-'));
const NO_SPARSE = sparseProblem(DIR);
if (NO_SPARSE !== undefined) {
  rmSync(DIR, { recursive: true, force: true });
  process.stderr.write(`\n*** test/e2e/huge.test.ts: every test SKIPPED: ${NO_SPARSE} ***\n\n`);
}

/** Serial: each run reads 8 GiB through both cores, and the runs on one pair find it in the page cache. */
function hugeTest(title: string, impl: (t: ExecutionContext) => Promise<void>): void {
  if (NO_SPARSE !== undefined) {
    test.serial.skip(`${title} (skipped: ${NO_SPARSE})`, impl);
    return;
  }
  test.serial(title, async (t) => {
    t.timeout(10 * 60_000);
    await impl(t);
  });
}

const pairPaths = (c: HugeCase): { input: string; label: string } => ({
  input: join(DIR, `${c.dtype}-input.npy`),
  label: join(DIR, `${c.dtype}-label.npy`),
});

test.before(() => {
  if (NO_SPARSE !== undefined) return;
  for (const c of [FLOAT32, UINT8]) {
    const { input, label } = pairPaths(c);
    writeSparseNpy(input, c.dtype, c.elements, new Map(c.sites.map((s) => [s.index, s.input])));
    writeSparseNpy(label, c.dtype, c.elements, new Map(c.sites.map((s) => [s.index, s.label])));
  }
});

test.after.always(() => {
  rmSync(DIR, { recursive: true, force: true });
});

async function timedCli(t: ExecutionContext, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = performance.now();
  const run = await runCli(args);
  t.log(`smoothl1 ${args.slice(2).join(' ')}: ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return { code: run.code, stdout: run.stdout.toString('utf8'), stderr: run.stderr };
}

/** Sum and mean of one pair, exact. */
function reductionTests(c: HugeCase): void {
  for (const reduction of ['sum', 'mean'] as const) {
    hugeTest(`${c.name}: -r ${reduction} is exactly the known ${c.result} answer`, async (t) => {
      const want = expected(c)[reduction];
      const text = c.printed[reduction];
      t.is(roundTo(c.result, Number(text)), want, `the test's own ${reduction} text ${text} must read back to ${want}`);
      const { input, label } = pairPaths(c);
      const r = await timedCli(t, [input, label, '-r', reduction]);
      t.is(r.code, 0, r.stderr);
      t.is(r.stderr, '');
      t.is(r.stdout, `${text}\n`);
    });
  }
}

// In this order: every float32 run, then the uint8 pair, so that a pair's
// later runs find it in the page cache (both pairs and the output are 20 GiB).
reductionTests(FLOAT32);

hugeTest(`${FLOAT32.name}: -r sum on the main thread (--threads 1) gives the same answer`, async (t) => {
  const { input, label } = pairPaths(FLOAT32);
  const r = await timedCli(t, [input, label, '-r', 'sum', '--threads', '1']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${FLOAT32.printed.sum}\n`);
});

/** The float32 at element `index` of an .npy output whose data starts at `dataOffset`. */
function readFloat32At(fd: number, dataOffset: number, index: number): number {
  const bytes = new Uint8Array(4);
  if (readSync(fd, bytes, 0, 4, dataOffset + index * 4) !== 4) throw new Error(`output ends before element ${index}`);
  return new DataView(bytes.buffer).getFloat32(0, true);
}

/** The version-1/2 preamble: where the data starts, and the header text. */
function readNpyPreamble(fd: number): { dataOffset: number; text: string } {
  const head = new Uint8Array(4096);
  const got = readSync(fd, head, 0, head.length, 0);
  const view = new DataView(head.buffer);
  const major = head[6];
  const dataOffset = major === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
  if (got < dataOffset) throw new Error('output ends inside its header');
  return { dataOffset, text: Buffer.from(head.subarray(major === 1 ? 10 : 12, dataOffset)).toString('latin1') };
}

hugeTest(`${FLOAT32.name}: -r none -o out.npy puts each known loss at its element`, async (t) => {
  const out = join(DIR, 'loss.npy');
  t.teardown(() => rmSync(out, { force: true }));
  const dataBytes = FLOAT32.elements * 4;
  const { bavail, bsize } = statfsSync(DIR);
  if (bavail * bsize < dataBytes + GiB) {
    t.fail(`the output needs ${(dataBytes / GiB).toFixed(1)} GiB of real disk (it is written whole); ${DIR} has ${((bavail * bsize) / GiB).toFixed(1)} GiB free`);
    return;
  }
  const { input, label } = pairPaths(FLOAT32);
  const r = await timedCli(t, [input, label, '-r', 'none', '-o', out]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  const fd = openSync(out, 'r');
  try {
    const { dataOffset, text } = readNpyPreamble(fd);
    t.regex(text, new RegExp(`^\\{'descr': '<f4', 'fortran_order': False, 'shape': \\(${FLOAT32.elements},\\), \\} *\\n$`));
    t.is(fstatSync(fd).size, dataOffset + dataBytes);
    const sites = new Set(FLOAT32.sites.map((s) => s.index));
    for (const site of FLOAT32.sites) {
      const want = Math.fround(elementLoss(site.input, site.label));
      t.is(readFloat32At(fd, dataOffset, site.index), want, `element ${site.index}`);
      // Its neighbours that are holes hold a loss of 0.
      for (const near of [site.index - 1, site.index + 1]) {
        if (near >= 0 && near < FLOAT32.elements && !sites.has(near)) t.is(readFloat32At(fd, dataOffset, near), 0, `element ${near}`);
      }
    }
  } finally {
    closeSync(fd);
  }
});

reductionTests(UINT8);
