import { fc, testProp } from '@fast-check/ava';
import test from 'ava';
import { blockLoss } from '../src/kernel.js';
import { WasmKernel, type KernelInput, type KernelOutput } from '../src/wasm-kernel.js';

// The WebAssembly kernel is what runs; src/kernel.ts is its specification in
// plain JavaScript. They must agree to the bit, for every input type, every
// length (full groups and a tail), both loss variants, and odd values.

const kernel = new WasmKernel();

const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e300, -1e300, 5e-324, 1, -1) },
);

const caseArb = fc.record({
  a: fc.array(valueArb, { minLength: 0, maxLength: 300 }),
  bShift: fc.array(valueArb, { minLength: 300, maxLength: 300 }),
  aType: fc.constantFrom<KernelInput>('float32', 'float64'),
  bType: fc.constantFrom<KernelInput>('float32', 'float64'),
  out: fc.constantFrom<KernelOutput>('none', 'float32', 'float64'),
  delta: fc.constantFrom(1, 0.5, 2, 1e-3, 1e6),
  huber: fc.boolean(),
  at: fc.integer({ min: 0, max: 9 }),
});

/** Values as the kernel sees them: rounded to float32 when that is the input type. */
const asType = (xs: readonly number[], type: KernelInput): Float64Array =>
  Float64Array.from(type === 'float32' ? Float32Array.from(xs) : xs);

testProp('the WebAssembly kernel equals its JavaScript specification bit for bit', [caseArb], (t, c) => {
  const n = c.a.length;
  const at = c.at;
  const regions = kernel.reserve((at + n) * 8, (at + n) * 8, (at + n) * 8);
  const put = (bytes: Uint8Array, xs: readonly number[], type: KernelInput): void => {
    const view = type === 'float32' ? new Float32Array(bytes.buffer, bytes.byteOffset, at + n) : new Float64Array(bytes.buffer, bytes.byteOffset, at + n);
    view.set(xs, at);
  };
  const b = c.bShift.slice(0, n);
  put(kernel.bytes(regions.a), c.a, c.aType);
  put(kernel.bytes(regions.b), b, c.bType);
  const params = { delta: c.delta, huber: c.huber };
  const wasm = kernel.blockLoss(at, n, c.aType, c.bType, params, c.out);

  const z = new Float64Array(n);
  const spec = blockLoss(asType(c.a, c.aType), 0, asType(b, c.bType), 0, n, params, z, 0);
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
  t.is(k.blockLoss(n - 4096, 4096, 'float32', 'float32', { delta: 1, huber: true }, 'none'), 1.5 * 4096);
});
