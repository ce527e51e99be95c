import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { arrowReader } from '../../src/formats/arrow/index.js';
import { npyReader } from '../../src/formats/npy/index.js';
import { MAGIC_BYTES, outputFormat, readerFor, scalarFile, writerBeforeOpening, writerOf } from '../../src/formats/index.js';
import type { TensorFormat } from '../../src/tensor/tensor.js';
import { npyBytes } from '../helpers/make-npy.js';

// Formats are told by their first bytes, never by a file's name; the
// output's name (or --format) chooses only what is written.

const prefix = (bytes: Uint8Array): Uint8Array => bytes.subarray(0, MAGIC_BYTES);

test('readerFor tells .npy, an Arrow IPC file and an Arrow IPC stream by their first bytes', (t) => {
  const npy = readerFor(prefix(npyBytes('float32', [2], new Uint8Array(8))));
  t.is(npy?.format, 'npy');
  t.is(npy?.reader, npyReader);
  const file = readerFor(Uint8Array.from([...Buffer.from('ARROW1'), 0, 0, 0xff, 0xff, 0xff, 0xff]));
  t.is(file?.format, 'arrow');
  t.is(file?.reader, arrowReader);
  // A continuation marker, then a metadata length that a real message could have.
  const stream = readerFor(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xf8, 0x00, 0x00, 0x00, 0x10, 0, 0, 0]));
  t.is(stream?.format, 'arrows');
  t.is(stream?.reader, arrowReader);
  // The same marker with an implausible (negative) length is nothing.
  t.is(readerFor(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80])), undefined);
});

testProp(
  'readerFor knows no text file',
  [fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: MAGIC_BYTES })
    .filter((s) => !s.startsWith('ARROW1'))],
  (t, text) => {
    t.is(readerFor(new Uint8Array(Buffer.from(text, 'latin1'))), undefined);
  },
  { numRuns: 300 },
);

test('outputFormat: --format wins, then the extension in any case, then the input format', (t) => {
  t.is(outputFormat('out.npy', 'arrows', 'npy', false), 'arrows');
  t.is(outputFormat('-', 'npy', 'arrow', true), 'npy');
  const byName: [string, TensorFormat][] = [['a.npy', 'npy'], ['a.NPY', 'npy'], ['a.arrow', 'arrow'], ['a.Feather', 'arrow'], ['a.ARROWS', 'arrows']];
  for (const [target, format] of byName) t.is(outputFormat(target, undefined, 'npy', false), format, target);
  t.is(outputFormat('a.arrows', undefined, 'npy', false), 'arrows');
  for (const input of ['npy', 'arrow', 'arrows'] as const) t.is(outputFormat('loss.bin', undefined, input, false), input);
});

test('on stdout an Arrow file input gives an Arrow stream; other inputs keep their format', (t) => {
  t.is(outputFormat('-', undefined, 'arrow', true), 'arrows');
  t.is(outputFormat('-', undefined, 'arrows', true), 'arrows');
  t.is(outputFormat('-', undefined, 'npy', true), 'npy');
});

test('.npy holds scalars and Fortran order; Arrow file and stream hold neither', (t) => {
  t.like(writerOf('npy'), { holdsScalars: true, storesFortranOrder: true });
  for (const format of ['arrow', 'arrows'] as const) t.like(writerOf(format), { holdsScalars: false, storesFortranOrder: false });
  // Before the inputs are opened: --format, else the extension, else .npy's.
  t.is(writerBeforeOpening('x.bin', 'arrow', false), writerOf('arrow'));
  t.is(writerBeforeOpening('x.feather', undefined, false), writerOf('arrow'));
  t.is(writerBeforeOpening('x.arrows', undefined, true), writerOf('npy'));
  t.is(writerBeforeOpening(undefined, undefined, false), writerOf('npy'));
});

test('scalarFile gives a whole .npy file', (t) => {
  for (const [dtype, size] of [['float16', 2], ['float32', 4], ['float64', 8]] as const) {
    const bytes = scalarFile(0.5, dtype);
    t.deepEqual(Array.from(bytes.subarray(0, 6)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
    t.is(readerFor(prefix(bytes))?.format, 'npy');
    // The header is padded to 64 bytes, then one element.
    t.is((bytes.length - size) % 64, 0);
  }
});
