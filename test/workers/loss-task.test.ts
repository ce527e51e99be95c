import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockCount, newScratch } from '../../src/compute/stage.js';
import { chunkLoss } from '../helpers/chunk-loss.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { runLossTask, SLICE_ELEMENTS } from '../../src/workers/loss-task.js';
import type { ChunkRef, FilePiece } from '../../src/tensor/tensor.js';
import { tempDir } from '../helpers/tmp.js';

// A worker reads a task's range chunk itself, piece by piece and slice by
// slice (SLICE_ELEMENTS at a time). Whatever the pieces and the slices, it
// must compute what the same elements give as one contiguous buffer.

const scratch = newScratch();

/** `values` as float64 bytes, split into pieces stored in reverse order after `gap` bytes of junk each. */
function scatter(values: Float64Array, cuts: readonly number[], gap: number): { file: Uint8Array; pieces: FilePiece[] } {
  const bounds = [0, ...[...new Set(cuts)].filter((c) => c > 0 && c < values.length).sort((x, y) => x - y), values.length];
  const parts = bounds.slice(1).map((end, i) => new Uint8Array(values.buffer, bounds[i]! * 8, (end - bounds[i]!) * 8));
  const file = new Uint8Array(parts.length * gap + values.byteLength).fill(0xee);
  const positions: number[] = [];
  let at = 0;
  for (const part of [...parts].reverse()) {
    at += gap;
    positions.unshift(at);
    file.set(part, at);
    at += part.length;
  }
  return { file, pieces: parts.map((part, i) => ({ position: positions[i]!, byteLength: part.length })) };
}

testProp(
  'a range chunk of scattered pieces, read in slices, gives the block sums and losses of the same elements in one buffer',
  [
    fc.integer({ min: 1, max: 2 * SLICE_ELEMENTS + 5000 }),
    fc.array(fc.integer({ min: 0, max: 2 * SLICE_ELEMENTS + 5000 }), { maxLength: 6 }),
    fc.integer({ min: 0, max: 24 }),
    fc.boolean(),
  ],
  (t, count, cuts, gap, withOutput) => {
    const input = Float64Array.from({ length: count }, (_, i) => Math.sin(i) * 3);
    const label = Float64Array.from({ length: count }, (_, i) => Math.cos(i * 0.7));
    const dir = tempDir(t);
    const ref = (name: string, values: Float64Array): ChunkRef => {
      const { file, pieces } = scatter(values, cuts, gap);
      const path = join(dir, name);
      writeFileSync(path, file);
      const fd = openSync(path, 'r');
      t.teardown(() => closeSync(fd));
      return { file: path, chunk: { kind: 'range', fd, pieces, byteLength: values.byteLength }, dtype: 'float64', byteOrder: 'little' };
    };
    const params = { delta: 1, huber: true };
    const output = withOutput ? { buffer: new ArrayBuffer(count * 4), dtype: 'float32' as const } : null;
    const { result } = runLossTask({ input: ref('a.bin', input), label: ref('b.bin', label), count, params, output }, scratch);

    const sums = new Float64Array(blockCount(count));
    const losses = new Uint8Array(count * 4);
    const bytesOf = (a: Float64Array): { bytes: Uint8Array; dtype: 'float64' } => ({ bytes: new Uint8Array(a.buffer), dtype: 'float64' });
    chunkLoss(bytesOf(input), bytesOf(label), count, params, { bytes: losses, dtype: 'float32' }, sums, newScratch());
    t.deepEqual(Array.from(result.sums), Array.from(sums));
    if (result.output !== null) t.deepEqual(new Uint8Array(result.output), losses);
  },
  { numRuns: 25 },
);

test('losses written by position land at their place in the output file; a failed write names the output', (t) => {
  const dir = tempDir(t);
  const count = SLICE_ELEMENTS + 100;
  const values = Float64Array.from({ length: count }, (_, i) => i % 7);
  const data = join(dir, 'in.bin');
  writeFileSync(data, new Uint8Array(values.buffer));
  const inFd = openSync(data, 'r');
  t.teardown(() => closeSync(inFd));
  const ref: ChunkRef = { file: data, chunk: { kind: 'range', fd: inFd, pieces: [{ position: 0, byteLength: values.byteLength }], byteLength: values.byteLength }, dtype: 'float64', byteOrder: 'little' };
  const zeros = Float64Array.from({ length: count }, () => 0);
  const zeroPath = join(dir, 'zeros.bin');
  writeFileSync(zeroPath, new Uint8Array(zeros.buffer));
  const zeroFd = openSync(zeroPath, 'r');
  t.teardown(() => closeSync(zeroFd));
  const label: ChunkRef = { ...ref, file: zeroPath, chunk: { kind: 'range', fd: zeroFd, pieces: [{ position: 0, byteLength: zeros.byteLength }], byteLength: zeros.byteLength } };
  const params = { delta: 100, huber: true };

  const outPath = join(dir, 'out.bin');
  writeFileSync(outPath, new Uint8Array(16 + count * 8).fill(0xff));
  const outFd = openSync(outPath, 'r+');
  runLossTask({ input: ref, label, count, params, output: { span: { path: outPath, fd: outFd, position: 16 }, dtype: 'float64' } }, scratch);
  closeSync(outFd);
  const written = new Float64Array(readFileSync(outPath).buffer, 16, count);
  t.deepEqual(Array.from(written), Array.from(values, (v) => 0.5 * v * v));
  t.deepEqual([...readFileSync(outPath).subarray(0, 16)], new Array<number>(16).fill(0xff), 'bytes before the position are left alone');

  const readOnly = openSync(outPath, 'r');
  t.teardown(() => closeSync(readOnly));
  const err = t.throws(() => runLossTask({ input: ref, label, count, params, output: { span: { path: outPath, fd: readOnly, position: 16 }, dtype: 'float32' } }, scratch), {
    instanceOf: SmoothL1Error,
  });
  t.is(err?.file, outPath);
});
