import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFully } from '../../src/io/write-at.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { tempDir } from '../helpers/tmp.js';

// Workers write their losses by position into one shared output file: a
// write must land exactly where asked and leave every other byte alone.

testProp(
  'writes the bytes at the position and leaves the bytes around them untouched',
  [fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.uint8Array({ maxLength: 100 }), fc.nat({ max: 250 })],
  (t, before, bytes, position) => {
    const path = join(tempDir(t), 'out.bin');
    writeFileSync(path, before);
    const fd = openSync(path, 'r+');
    try {
      writeFully(path, fd, bytes, position);
    } finally {
      closeSync(fd);
    }
    // A write past the end leaves a hole, which reads as zeros.
    const expected = new Uint8Array(Math.max(before.length, bytes.length > 0 ? position + bytes.length : 0));
    expected.set(before);
    if (bytes.length > 0) expected.set(bytes, position);
    t.deepEqual(new Uint8Array(readFileSync(path)), expected);
  },
  { numRuns: 50 },
);

test('a descriptor open only for reading gives an io error naming the path', (t) => {
  const path = join(tempDir(t), 'out.bin');
  writeFileSync(path, new Uint8Array(8));
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));
  const err = t.throws(() => writeFully(path, fd, new Uint8Array([1, 2, 3]), 2), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'io');
  t.is(err?.file, path);
  t.true(err?.message.startsWith(`${path}: `));
  t.deepEqual(new Uint8Array(readFileSync(path)), new Uint8Array(8));
});
