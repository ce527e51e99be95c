import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { blockCount, newScratch } from '../../src/compute/stage.js';
import { chunkLoss } from '../helpers/chunk-loss.js';
import { BLOCK_ELEMENTS, specBlockSum } from '../../src/compute/loss-spec.js';
import type { DType, FloatDType } from '../../src/tensor/tensor.js';
import {
  DTYPES,
  elementArb,
  encodeElements,
  FLOAT_DTYPES,
  closeToExactSum,
  PARTIAL_ERROR,
  fsum,
  halfBitsToNumber,
  isHalfNaN,
  ITEM_BYTES,
  lossRef,
  nearestHalfBits,
  roundToFloat32Ref,
  sameValue,
  type Element,
} from '../helpers/reference.js';

interface Case {
  readonly inputDType: DType;
  readonly labelDType: DType;
  readonly input: readonly Element[];
  readonly label: readonly Element[];
  readonly count: number;
  readonly params: { readonly delta: number; readonly huber: boolean };
  readonly outDType: FloatDType | null;
}

/**
 * Tensors long enough to span several blocks are made by cycling through a
 * short list of generated elements (of different lengths for input and
 * label, so pairs vary), which keeps generation cheap.
 */
function caseArb(element: (dtype: DType) => fc.Arbitrary<Element>): fc.Arbitrary<Case> {
  return fc
    .record({
      inputDType: fc.constantFrom(...DTYPES),
      labelDType: fc.constantFrom(...DTYPES),
      count: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 50 }), weight: 3 },
        { arbitrary: fc.integer({ min: BLOCK_ELEMENTS - 2, max: 2 * BLOCK_ELEMENTS + 2 }), weight: 1 },
      ),
      params: fc.record({
        delta: fc.oneof(fc.constantFrom(1, 0.5, 2), fc.double({ min: 1e-4, max: 1e4, noNaN: true })),
        huber: fc.boolean(),
      }),
      outDType: fc.option(fc.constantFrom(...FLOAT_DTYPES), { nil: null }),
    })
    .chain((c) =>
      fc
        .tuple(
          fc.array(element(c.inputDType), { minLength: 1, maxLength: 61 }),
          fc.array(element(c.labelDType), { minLength: 1, maxLength: 67 }),
        )
        .map(([a, b]) => ({
          ...c,
          input: Array.from({ length: c.count }, (_, i) => a[i % a.length]!),
          label: Array.from({ length: c.count }, (_, i) => b[i % b.length]!),
        })),
  );
}

/** Elements whose losses and sums stay finite: others become 0, which is 0 in every dtype's bits. */
const finiteElementArb = (dtype: DType): fc.Arbitrary<Element> =>
  elementArb(dtype).map((e) => (Number.isFinite(e.value) && Math.abs(e.value) < 1e150 ? e : { stored: 0, value: 0 }));

/** Value of output element i, decoded with DataView independently of src/. */
function outputValue(bytes: Uint8Array, dtype: FloatDType, i: number): { value: number; bits?: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'float64') return { value: view.getFloat64(8 * i, true) };
  if (dtype === 'float32') return { value: view.getFloat32(4 * i, true) };
  return { value: NaN, bits: view.getUint16(2 * i, true) };
}

/** One kernel instance for all runs, as a worker thread keeps one: chunks of any size and dtype follow each other. */
const shared = newScratch();

function run(c: Case): { sums: Float64Array; out: Uint8Array | null } {
  const sums = new Float64Array(blockCount(c.count));
  const out = c.outDType === null ? null : new Uint8Array(c.count * ITEM_BYTES[c.outDType]);
  chunkLoss(
    { bytes: encodeElements(c.inputDType, c.input), dtype: c.inputDType },
    { bytes: encodeElements(c.labelDType, c.label), dtype: c.labelDType },
    c.count,
    c.params,
    out === null || c.outDType === null ? null : { bytes: out, dtype: c.outDType },
    sums,
    shared,
  );
  return { sums, out };
}

testProp(
  'chunkLoss matches the reference for every pair of dtypes: element losses, and block sums bit-equal to the spec (loss-spec.ts)',
  [caseArb(elementArb)],
  (t, c) => {
    const { sums, out } = run(c);
    const a = Float64Array.from(c.input, (e) => e.value);
    const b = Float64Array.from(c.label, (e) => e.value);
    const z = c.input.map((e, i) => lossRef(e.value, c.label[i]!.value, c.params));
    t.is(sums.length, Math.ceil(c.count / BLOCK_ELEMENTS));
    for (let k = 0, start = 0; start < c.count; k++, start += BLOCK_ELEMENTS) {
      // kernel.ts is the specification the WebAssembly kernel must match bit for bit.
      const n = Math.min(BLOCK_ELEMENTS, c.count - start);
      const want = specBlockSum(a, start, b, start, n, c.params, null, 0);
      t.true(sameValue(sums[k]!, want), `block ${k}: ${sums[k]} vs ${want}`);
    }
    if (out === null || c.outDType === null) return;
    let wrong = 0;
    for (let i = 0; i < c.count; i++) {
      const got = outputValue(out, c.outDType, i);
      const want = z[i]!;
      if (c.outDType === 'float16') {
        const ok = Number.isNaN(want) ? isHalfNaN(got.bits!) : got.bits === nearestHalfBits(want);
        if (!ok) wrong++;
      } else if (!sameValue(got.value, c.outDType === 'float32' ? roundToFloat32Ref(want) : want)) {
        wrong++;
      }
    }
    t.is(wrong, 0, `${wrong} of ${c.count} output elements differ`);
  },
  { numRuns: 120 },
);

testProp(
  'chunkLoss block sums of finite data are as close to the exact block sums as compensated runs of plain partials must be',
  [caseArb(finiteElementArb)],
  (t, c) => {
    const { sums } = run(c);
    const z = c.input.map((a, i) => lossRef(a.value, c.label[i]!.value, c.params));
    t.is(sums.length, blockCount(c.count));
    for (let k = 0; k < sums.length; k++) {
      const block = z.slice(k * BLOCK_ELEMENTS, (k + 1) * BLOCK_ELEMENTS);
      t.true(closeToExactSum(sums[k]!, block, PARTIAL_ERROR), `block ${k}: ${sums[k]} vs ${fsum(block)}`);
    }
  },
  { numRuns: 60 },
);

test('a chunk spanning blocks writes one sum per block, the last block partial', (t) => {
  const count = 2 * BLOCK_ELEMENTS + 5;
  const a = new Float64Array(count).map((_, i) => i % 7);
  const b = new Float64Array(count);
  const sums = new Float64Array(blockCount(count));
  const out = new Uint8Array(count * 8);
  chunkLoss(
    { bytes: new Uint8Array(a.buffer), dtype: 'float64' },
    { bytes: new Uint8Array(b.buffer), dtype: 'float64' },
    count,
    { delta: 1, huber: true },
    { bytes: out, dtype: 'float64' },
    sums,
    newScratch(),
  );
  t.is(sums.length, 3);
  const z = Array.from(a, (x) => lossRef(x, 0, { delta: 1, huber: true }));
  t.is(sums[0], fsum(z.slice(0, BLOCK_ELEMENTS)));
  t.is(sums[1], fsum(z.slice(BLOCK_ELEMENTS, 2 * BLOCK_ELEMENTS)));
  t.is(sums[2], fsum(z.slice(2 * BLOCK_ELEMENTS)));
  t.deepEqual(Array.from(new Float64Array(out.buffer)), z);
});

test('chunkLoss reads views that start part-way into their buffer', (t) => {
  // Item-aligned but non-zero byteOffset, as a reader's subarray would be.
  const backing = new Uint8Array(64 + 3 * 8);
  const input = backing.subarray(16, 16 + 3 * 8);
  new DataView(input.buffer, input.byteOffset).setFloat64(0, 3, true);
  new DataView(input.buffer, input.byteOffset).setFloat64(8, -0.5, true);
  new DataView(input.buffer, input.byteOffset).setFloat64(16, 10, true);
  const labelBacking = new Uint8Array(8 + 3 * 4);
  const label = labelBacking.subarray(8);
  new DataView(label.buffer, label.byteOffset).setInt32(0, 1, true);
  new DataView(label.buffer, label.byteOffset).setInt32(4, 0, true);
  new DataView(label.buffer, label.byteOffset).setInt32(8, -2, true);
  const outBacking = new Uint8Array(4 + 3 * 2);
  const out = outBacking.subarray(4);
  const sums = new Float64Array(1);
  chunkLoss({ bytes: input, dtype: 'float64' }, { bytes: label, dtype: 'int32' }, 3, { delta: 1, huber: true }, { bytes: out, dtype: 'float16' }, sums, newScratch());
  // d = 2, -0.5, 12 → 1.5, 0.125, 11.5
  t.is(sums[0], 13.125);
  const view = new DataView(out.buffer, out.byteOffset);
  t.deepEqual([view.getUint16(0, true), view.getUint16(2, true), view.getUint16(4, true)], [nearestHalfBits(1.5), nearestHalfBits(0.125), nearestHalfBits(11.5)]);
  t.deepEqual(Array.from(outBacking.subarray(0, 4)), [0, 0, 0, 0], 'nothing written before the view');
});

test('blockCount is the number of started blocks', (t) => {
  t.is(blockCount(0), 0);
  t.is(blockCount(1), 1);
  t.is(blockCount(BLOCK_ELEMENTS), 1);
  t.is(blockCount(BLOCK_ELEMENTS + 1), 2);
  t.is(blockCount(10 * BLOCK_ELEMENTS), 10);
});

for (const [title, pattern] of [
  ['every finite float16 bit pattern (read by the kernel as halves)', (h: number): number => ((h & 0x7c00) === 0x7c00 ? 0 : h)],
  ['every float16 bit pattern, infinities and NaNs among them (the chunk is widened to float64 first)', (h: number): number => h],
] as const) {
  test(`${title} gives the reference losses and block sums`, (t) => {
    const n = 65536;
    const bits = Uint16Array.from({ length: n }, (_, h) => pattern(h));
    const zeros = new Float32Array(n);
    const params = { delta: 1, huber: true };
    const z = new Float64Array(n);
    const sums = new Float64Array(blockCount(n));
    chunkLoss(
      { bytes: new Uint8Array(bits.buffer), dtype: 'float16' },
      { bytes: new Uint8Array(zeros.buffer), dtype: 'float32' },
      n,
      params,
      { bytes: new Uint8Array(z.buffer), dtype: 'float64' },
      sums,
      newScratch(),
    );
    const want = new Float64Array(n);
    const values = Float64Array.from(bits, halfBitsToNumber);
    for (let k = 0; k * BLOCK_ELEMENTS < n; k++) {
      const at = k * BLOCK_ELEMENTS;
      const expected = specBlockSum(values, at, new Float64Array(n), at, BLOCK_ELEMENTS, params, want, at);
      t.true(Object.is(sums[k], expected), `block ${k}: ${sums[k]} vs ${expected}`);
    }
    const bad = Array.from(z).findIndex((x, i) => !Object.is(x, want[i]));
    t.is(bad, -1, `bits 0x${bad.toString(16)}: ${z[bad]} vs ${want[bad]}`);
  });
}
