import { fc, testProp } from '@fast-check/ava';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { resultDType } from '../src/dtype.js';
import { smoothL1Loss } from '../src/loss.js';
import { roundToDType } from '../src/dtype.js';
import { runCli } from './helpers/cli.js';
import { npyBytes } from './helpers/make-npy.js';
import { readNpyValues } from './helpers/npy.js';
import { accurateSum, randomTensor, referenceLoss } from './helpers/random-tensor.js';
import { DTYPES } from './helpers/reference.js';
import { tempDir } from './helpers/tmp.js';

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
