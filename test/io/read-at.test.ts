import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAtMost, readFully } from '../../src/io/read-at.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { tempDir } from '../helpers/tmp.js';

/** `bytes` as a file in a fresh temp dir, open for reading until the test ends. */
function openBytes(t: ExecutionContext, bytes: Uint8Array): { path: string; fd: number } {
  const path = join(tempDir(t), 'data.bin');
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));
  return { path, fd };
}

// No descriptor this process could have open: the read itself must fail.
const BAD_FD = 1 << 30;

testProp(
  'readAtMost returns the bytes from the position up to the end of the file, and how many came',
  [fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 320 }), fc.nat({ max: 320 })],
  (t, file, position, length) => {
    const { path, fd } = openBytes(t, file);
    // Junk in the buffer shows which bytes the read left alone.
    const into = new Uint8Array(length).fill(0xee);
    const n = readAtMost(path, fd, into, position);
    const expected = file.subarray(Math.min(position, file.length), Math.min(position + length, file.length));
    t.is(n, expected.length);
    t.deepEqual(into.subarray(0, n), expected);
    t.true(into.subarray(n).every((b) => b === 0xee));
  },
  { numRuns: 50 },
);

test('readFully fills the buffer exactly from the position', (t) => {
  const file = Uint8Array.from({ length: 64 }, (_, i) => i);
  const { path, fd } = openBytes(t, file);
  const into = new Uint8Array(10);
  readFully(path, fd, into, 50);
  t.deepEqual(into, file.subarray(50, 60));
  // Reaching exactly the last byte is not a shrunk file.
  readFully(path, fd, new Uint8Array(14), 50);
});

test('readFully on a file shorter than asked throws an io error naming the file', (t) => {
  const { path, fd } = openBytes(t, new Uint8Array(16));
  for (const [length, position] of [[17, 0], [1, 16], [4, 100]] as const) {
    const err = t.throws(() => readFully(path, fd, new Uint8Array(length), position), { instanceOf: SmoothL1Error });
    t.is(err?.code, 'io');
    t.is(err?.file, path);
    t.true(err?.message.startsWith(`${path}: `));
  }
});

test('a descriptor the OS refuses gives an io error naming the file', (t) => {
  for (const read of [readAtMost, readFully]) {
    const err = t.throws(() => read('x.npy', BAD_FD, new Uint8Array(4), 0), { instanceOf: SmoothL1Error });
    t.is(err?.code, 'io');
    t.is(err?.file, 'x.npy');
  }
});
