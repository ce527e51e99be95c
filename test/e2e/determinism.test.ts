import { fc, testProp } from '@fast-check/ava';
import { readFileSync, writeFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { resultDType } from '../../src/tensor/dtype.js';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import { roundToDType } from '../../src/tensor/dtype.js';
import { runCli } from '../helpers/cli.js';
import { npyBytes } from '../helpers/make-npy.js';
import { npyToArrow } from '../helpers/npy-to-arrow.js';
import { readNpyValues } from '../helpers/npy.js';
import { accurateSum, randomTensor, referenceLoss } from '../helpers/random-tensor.js';
import { DTYPES } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

/** Shapes up to ~3 blocks of 4096 elements, so that chunks of one or a few blocks split them. */
const shapeArb = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 13000 })).map((s) => [...s]),
  fc.tuple(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 110 })).map((s) => [...s]),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 25 })).map((s) => [...s]),
);

const caseArb = fc.record({
  inputType: fc.constantFrom(...DTYPES),
  labelType: fc.constantFrom(...DTYPES),
  shape: shapeArb,
  seed: fc.integer(),
  delta: fc.constantFrom(0.5, 1, 2, 1e-3, 300),
  huber: fc.boolean(),
  specials: fc.boolean(),
});

// poolMinElements 0: the pool runs however small the case.
const configs = [
  { threads: 1, chunkElements: 1 << 19 },
  { threads: 2, chunkElements: 4096, poolMinElements: 0 },
  { threads: 3, chunkElements: 8192, poolMinElements: 0 },
  { threads: 2, chunkElements: 12288, poolMinElements: 0 },
];

const TOLERANCE = { float16: 2e-3, float32: 3e-7, float64: 1e-12 } as const;

function closeTo(actual: number, expected: number, rtol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= rtol * Math.abs(expected) + 1e-300;
}

type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

/** Writes the case's two tensors as .npy files; returns their paths and the values they hold. */
function writeCase(t: ExecutionContext, c: Case): { input: string; label: string; losses: Float64Array } {
  const dir = tempDir(t);
  const count = c.shape.reduce((n, d) => n * d, 1);
  const a = randomTensor(c.inputType, count, c.seed, c.specials);
  const b = randomTensor(c.labelType, count, c.seed ^ 0x5bd1e995);
  const input = join(dir, 'input.npy');
  const label = join(dir, 'label.npy');
  writeFileSync(input, npyBytes(c.inputType, c.shape, a.bytes));
  writeFileSync(label, npyBytes(c.labelType, c.shape, b.bytes));
  return { input, label, losses: referenceLoss(a.values, b.values, c.delta, c.huber) };
}

testProp(
  'every thread count and chunk size gives the bit-identical sum, close to a plain reference',
  [caseArb],
  async (t, c) => {
    const { input, label, losses } = writeCase(t, c);
    const sums = await Promise.all(
      configs.map(async (cfg) => (await smoothL1Loss(input, label, { ...cfg, reduction: 'sum', delta: c.delta, huber: c.huber })).value),
    );
    const bits = sums.map((s) => Buffer.from(Float64Array.of(s ?? -1).buffer).toString('hex'));
    t.true(bits.every((x) => x === bits[0]), `sums differ across configs: ${sums.join(', ')}`);
    const dtype = resultDType(c.inputType, c.labelType);
    const expected = roundToDType(accurateSum(losses), dtype);
    t.true(closeTo(sums[0]!, expected, TOLERANCE[dtype]), `${sums[0]} vs reference ${expected} (${dtype})`);
  },
  { numRuns: 40 },
);

testProp(
  "reduction 'none' writes byte-identical files for every thread count and chunk size, each element the reference's",
  [caseArb],
  async (t, c) => {
    const { input, label, losses } = writeCase(t, c);
    const dir = tempDir(t);
    const files = await Promise.all(
      configs.map(async (cfg, i) => {
        const output = join(dir, `out${i}.npy`);
        await smoothL1Loss(input, label, { ...cfg, reduction: 'none', delta: c.delta, huber: c.huber, output });
        return readFileSync(output);
      }),
    );
    t.true(files.every((f) => f.equals(files[0]!)));
    // Each element is computed in float64 and rounded once, so it must equal the rounded reference exactly.
    const dtype = resultDType(c.inputType, c.labelType);
    const got = readNpyValues(files[0]!).values;
    const bad = got.findIndex((z, i) => !Object.is(z, roundToDType(losses[i]!, dtype)) && !(Number.isNaN(z) && Number.isNaN(losses[i])));
    t.is(bad, -1, `element ${bad}: ${got[bad]} vs ${losses[bad]}`);
  },
  { numRuns: 25 },
);

testProp(
  'the CLI prints the same text for --threads 1 and 2 and any chunk size',
  [caseArb.filter((c) => c.shape.reduce((n, d) => n * d, 1) > 0)],
  async (t, c) => {
    const { input, label } = writeCase(t, c);
    const args = [input, label, '--delta', String(c.delta), ...(c.huber ? [] : ['--no-huber'])];
    const runs = await Promise.all([
      runCli([...args, '--threads', '1']),
      runCli([...args, '--threads', '2'], { env: { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' } }),
    ]);
    t.is(runs[0]!.code, 0, runs[0]!.stderr);
    t.is(runs[0]!.stdout.toString(), runs[1]!.stdout.toString());
  },
  { numRuns: 10 },
);

// At the default chunk sizes, over more than one large chunk: tasks of 2 Mi
// elements read in 64 Ki-element slices, Arrow chunks made of pieces from
// several record batches, and 'none' losses written by position from the
// workers. Every way of running must give the same bytes.
test('at default chunk sizes, .npy and Arrow files give the same bits with 1, 2 and 3 threads', async (t) => {
  const count = (1 << 21) + 123_457;
  const dir = tempDir(t);
  const a = randomTensor('float32', count, 11);
  const b = randomTensor('float32', count, 12);
  const input = join(dir, 'input.npy');
  const label = join(dir, 'label.npy');
  writeFileSync(input, npyBytes('float32', [count], a.bytes));
  writeFileSync(label, npyBytes('float32', [count], b.bytes));
  const arrowLabel = join(dir, 'label.arrow');
  writeFileSync(arrowLabel, npyToArrow(label, 'file', 100_000) ?? new Uint8Array(0));
  const losses = referenceLoss(a.values, b.values, 1, true);
  const env = { SMOOTHL1_POOL_MIN_ELEMENTS: '0' };
  const runs = [];
  for (const threads of ['1', '2', '3']) {
    for (const [name, lab] of [['npy', label], ['arrow', arrowLabel]] as const) {
      const sum = join(dir, `sum-${threads}-${name}.npy`);
      const none = join(dir, `none-${threads}-${name}.npy`);
      runs.push({
        sum: runCli([input, lab, '-r', 'sum', '-o', sum, '--threads', threads], { env }).then((r) => ({ r, bytes: () => readFileSync(sum) })),
        none: runCli([input, lab, '-r', 'none', '-o', none, '--format', 'npy', '--threads', threads], { env }).then((r) => ({ r, bytes: () => readFileSync(none) })),
      });
    }
  }
  const sums: Buffer[] = [];
  const nones: Buffer[] = [];
  for (const run of runs) {
    const [sum, none] = await Promise.all([run.sum, run.none]);
    t.is(sum.r.code, 0, sum.r.stderr);
    t.is(none.r.code, 0, none.r.stderr);
    sums.push(sum.bytes());
    nones.push(none.bytes());
  }
  t.true(sums.every((s) => s.equals(sums[0]!)), 'sums');
  t.true(nones.every((n) => n.equals(nones[0]!)), 'element losses');
  t.true(Math.abs(readNpyValues(sums[0]!).values[0]! - roundToDType(accurateSum(losses), 'float32')) <= 3e-7 * accurateSum(losses));
  const got = readNpyValues(nones[0]!).values;
  t.is(got.findIndex((z, i) => z !== Math.fround(losses[i]!)), -1);
});
