import { fc, testProp } from '@fast-check/ava';
import test from 'ava';
import { float64ToHalfBits, roundToHalf } from '../../src/tensor/float16.js';
import { specBlockSum } from '../../src/compute/loss-spec.js';
import { WasmKernel, type KernelInput, type KernelOutput } from '../../src/compute/wasm-kernel.js';
import { KERNEL_WASM_BASE64 } from '../../src/compute/kernel-bytes.js';
import { halfBitsToNumber } from '../helpers/reference.js';

// The WebAssembly kernel is what runs; src/compute/loss-spec.ts is its specification in
// plain JavaScript. They must agree to the bit, for every stored type (float16
// is widened inside the kernel), every
// length (full groups and a tail), both loss variants, and odd values.

const kernel = new WasmKernel();

const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e300, -1e300, 5e-324, 1, -1) },
);

const caseArb = fc.record({
  a: fc.array(valueArb, { minLength: 0, maxLength: 300 }),
  bShift: fc.array(valueArb, { minLength: 300, maxLength: 300 }),
  aType: fc.constantFrom<KernelInput>('float16', 'float32', 'float64'),
  bType: fc.constantFrom<KernelInput>('float16', 'float32', 'float64'),
  out: fc.constantFrom<KernelOutput>('none', 'float32', 'float64'),
  delta: fc.constantFrom(1, 0.5, 2, 1e-3, 1e6),
  huber: fc.boolean(),
  at: fc.integer({ min: 0, max: 9 }),
});

/**
 * The kernel's float16 loops take finite halves only (chunk-loss.ts widens
 * a slice holding an infinity or NaN to float64 first): such values become 0.
 */
const forKernel = (xs: readonly number[], type: KernelInput): number[] =>
  type === 'float16' ? xs.map((x) => (Number.isFinite(roundToHalf(x)) ? x : 0)) : [...xs];

/** Values as the kernel sees them: rounded to the input type. */
const asType = (xs: readonly number[], type: KernelInput): Float64Array =>
  Float64Array.from(xs, (x) => (type === 'float32' ? Math.fround(x) : type === 'float16' ? roundToHalf(x) : x));

testProp('the WebAssembly kernel equals its JavaScript specification bit for bit', [caseArb], (t, c0) => {
  const c = { ...c0, a: forKernel(c0.a, c0.aType), bShift: forKernel(c0.bShift, c0.bType) };
  const n = c.a.length;
  const at = c.at;
  const regions = kernel.reserve((at + n) * 8, (at + n) * 8, (at + n) * 8);
  const put = (bytes: Uint8Array, xs: readonly number[], type: KernelInput): void => {
    const { buffer, byteOffset } = bytes;
    if (type === 'float16') new Uint16Array(buffer, byteOffset, at + n).set(xs.map(float64ToHalfBits), at);
    else if (type === 'float32') new Float32Array(buffer, byteOffset, at + n).set(xs, at);
    else new Float64Array(buffer, byteOffset, at + n).set(xs, at);
  };
  const b = c.bShift.slice(0, n);
  put(kernel.bytes(regions.a), c.a, c.aType);
  put(kernel.bytes(regions.b), b, c.bType);
  const params = { delta: c.delta, huber: c.huber };
  const wasm = kernel.blockSum(at, n, c.aType, c.bType, params, c.out);

  const z = new Float64Array(n);
  const spec = specBlockSum(asType(c.a, c.aType), 0, asType(b, c.bType), 0, n, params, z, 0);
  t.is(Object.is(wasm, spec) ? 'same' : `${wasm} vs ${spec}`, 'same');
  if (c.out !== 'none') {
    const zBytes = kernel.bytes(regions.z);
    const got = c.out === 'float32' ? new Float32Array(zBytes.buffer, zBytes.byteOffset, at + n) : new Float64Array(zBytes.buffer, zBytes.byteOffset, at + n);
    const want = c.out === 'float32' ? Float32Array.from(z) : z;
    t.deepEqual(Array.from(got.subarray(at)), Array.from(want));
  }
});

test('memory grows to fit a large chunk and keeps earlier results right', (t) => {
  const k = new WasmKernel();
  const n = 3 << 20;
  const regions = k.reserve(n * 4, n * 4, 0);
  const a = new Float32Array(k.bytes(regions.a).buffer, regions.a.offset, n).fill(3);
  t.is(a.length, n);
  new Float32Array(k.bytes(regions.b).buffer, regions.b.offset, n).fill(1);
  // d = 2 > delta = 1: each element's loss is 1*(2 - 0.5) = 1.5.
  t.is(k.blockSum(n - 4096, 4096, 'float32', 'float32', { delta: 1, huber: true }, 'none'), 1.5 * 4096);
});

/** Bits of every finite float16; infinities and NaNs (exponent all ones) become 0. */
const finiteHalfBits = (n: number): number[] => Array.from({ length: n }, (_, bits) => ((bits & 0x7c00) === 0x7c00 ? 0 : bits));

test('every finite float16 bit pattern is widened exactly inside the kernel', (t) => {
  const k = new WasmKernel();
  const n = 65536;
  const regions = k.reserve(n * 2, n * 8, n * 8);
  new Uint16Array(k.bytes(regions.a).buffer, regions.a.offset, n).set(finiteHalfBits(n));
  new Float64Array(k.bytes(regions.b).buffer, regions.b.offset, n).fill(0.25);
  const params = { delta: 1, huber: true };
  for (let at = 0; at < n; at += 4096) k.blockSum(at, 4096, 'float16', 'float64', params, 'float64');
  const got = new Float64Array(k.bytes(regions.z).buffer, regions.z.offset, n);
  const want = new Float64Array(n);
  specBlockSum(Float64Array.from(finiteHalfBits(n), halfBitsToNumber), 0, new Float64Array(n).fill(0.25), 0, n, params, want, 0);
  const bad = Array.from(got).findIndex((z, i) => !Object.is(z, want[i]));
  t.is(bad, -1, `bits 0x${bad.toString(16)}: ${got[bad]} vs ${want[bad]}`);
});

test('the committed kernel bytes are what scripts/kernel-wat.mjs assembles to (run npm run build:wasm if not)', async (t) => {
  // A plain .mjs with no types: imported by URL, its one export checked here.
  const script: unknown = await import(new URL('../../../scripts/build-wasm.mjs', import.meta.url).href);
  if (typeof script !== 'object' || script === null || !('kernelBase64' in script) || typeof script.kernelBase64 !== 'function') {
    return t.fail('scripts/build-wasm.mjs exports no kernelBase64()');
  }
  const assembled: unknown = await script.kernelBase64();
  t.true(assembled === KERNEL_WASM_BASE64);
});

/** Finite halves, and one optional infinity or NaN (any sign, any payload) placed among them. */
const finiteHalf = fc.integer({ min: 0, max: 0xffff }).map((h) => ((h & 0x7c00) === 0x7c00 ? h ^ 0x4000 : h));
const nonFiniteHalf = fc.integer({ min: 0, max: 0x7ff }).map((x) => 0x7c00 | (x & 0x3ff) | (x & 0x400 ? 0x8000 : 0));

testProp(
  'finiteHalves says whether any of the first count halves is an infinity or NaN, at any offset, length and position',
  [fc.array(finiteHalf, { maxLength: 150, size: 'max' }), nonFiniteHalf, fc.integer({ min: 0, max: 7 })],
  (t, finite, odd, at) => {
    const regions = kernel.reserve((at + finite.length + 2) * 2, 0, 0);
    const { buffer, byteOffset } = kernel.bytes(regions.a);
    const region = { offset: regions.a.offset + at * 2, byteLength: (finite.length + 1) * 2 };
    const halves = new Uint16Array(buffer, byteOffset, at + finite.length + 2);
    // Infinities just outside the range must not count.
    halves.fill(0x7c00).set(finite, at);
    t.true(kernel.finiteHalves(region, finite.length));
    // The odd one out at every position in turn.
    for (let i = 0; i <= finite.length; i++) {
      halves.set([...finite.slice(0, i), odd, ...finite.slice(i)], at);
      if (kernel.finiteHalves(region, finite.length + 1)) t.fail(`missed ${odd.toString(16)} at ${i} of ${finite.length + 1}`);
    }
    t.pass();
  },
  { numRuns: 100 },
);
