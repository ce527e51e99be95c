import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { endianness } from 'node:os';
import { needsSwap, PLATFORM_BYTE_ORDER, swapInPlace } from '../../src/tensor/byte-order.js';

const itemSizeArb = fc.constantFrom(1, 2, 4, 8);

test('PLATFORM_BYTE_ORDER is what os.endianness() reports', (t) => {
  t.is(PLATFORM_BYTE_ORDER, endianness() === 'LE' ? 'little' : 'big');
});

test('needsSwap: only multi-byte items stored in the other byte order', (t) => {
  const other = PLATFORM_BYTE_ORDER === 'little' ? 'big' : 'little';
  for (const size of [2, 4, 8]) {
    t.true(needsSwap(other, size), `${other} ${size}`);
    t.false(needsSwap(PLATFORM_BYTE_ORDER, size), `${PLATFORM_BYTE_ORDER} ${size}`);
  }
  t.false(needsSwap(other, 1));
  t.false(needsSwap(PLATFORM_BYTE_ORDER, 1));
});

testProp(
  'swapping twice is the identity',
  [fc.uint8Array({ maxLength: 100 }), itemSizeArb],
  (t, bytes, size) => {
    const copy = bytes.slice();
    swapInPlace(copy, size);
    swapInPlace(copy, size);
    t.deepEqual(copy, bytes);
  },
  { numRuns: 200 },
);

testProp(
  'after a swap, little-endian reads give what big-endian reads gave before',
  [fc.uint8Array({ maxLength: 96 }), fc.constantFrom(2, 4, 8), fc.nat({ max: 3 })],
  (t, data, size, pad) => {
    // The bytes sit part-way into a larger buffer, as a chunk view may.
    const backing = new Uint8Array(pad + data.length + 1);
    const bytes = backing.subarray(pad, pad + data.length);
    bytes.set(data);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const whole = data.length - (data.length % size);
    const read = (at: number, little: boolean): bigint =>
      size === 2 ? BigInt(view.getUint16(at, little)) : size === 4 ? BigInt(view.getUint32(at, little)) : view.getBigUint64(at, little);
    const bigEndian: bigint[] = [];
    for (let at = 0; at < whole; at += size) bigEndian.push(read(at, false));
    swapInPlace(bytes, size);
    const littleEndian: bigint[] = [];
    for (let at = 0; at < whole; at += size) littleEndian.push(read(at, true));
    t.deepEqual(littleEndian, bigEndian);
    t.deepEqual(Array.from(bytes.subarray(whole)), Array.from(data.subarray(whole)), 'a trailing partial item is left alone');
    t.is(backing[pad + data.length], 0, 'nothing written past the view');
  },
  { numRuns: 200 },
);

test('float64 stored in the other byte order reads as its value through a typed array once swapped', (t) => {
  const bytes = new Uint8Array(16);
  const storedLittle = PLATFORM_BYTE_ORDER === 'big';
  new DataView(bytes.buffer).setFloat64(0, Math.PI, storedLittle);
  new DataView(bytes.buffer).setFloat64(8, -1e-300, storedLittle);
  swapInPlace(bytes, 8);
  t.deepEqual(Array.from(new Float64Array(bytes.buffer)), [Math.PI, -1e-300]);
});

testProp(
  'item size 1 is never changed',
  [fc.uint8Array({ maxLength: 50 })],
  (t, bytes) => {
    const copy = bytes.slice();
    swapInPlace(copy, 1);
    t.deepEqual(copy, bytes);
  },
  { numRuns: 50 },
);
