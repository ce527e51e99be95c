import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTensor } from '../../src/pipeline/open-tensor.js';
import { SmoothL1Error, type ErrorCode } from '../../src/tensor/errors.js';
import { FIXTURES } from '../helpers/cli.js';
import { float32Bytes, npyBytes } from '../helpers/make-npy.js';
import { tempDir } from '../helpers/tmp.js';

const F8 = `${FIXTURES}f8-le-3x4.npy`;

/** Whether this system can make a FIFO at all (mkfifo is POSIX, not everywhere). */
function canMakeFifo(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'smoothl1-fifo-'));
  try {
    execFileSync('mkfifo', [join(dir, 'p')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an .npy file opens as a sized npy source with its header', async (t) => {
  const opened = await openTensor(F8);
  try {
    t.is(opened.format, 'npy');
    t.true(opened.sized);
    if (!opened.sized) return;
    t.deepEqual(opened.source.header, { file: F8, dtype: 'float64', byteOrder: 'little', shape: [3, 4], fortranOrder: false });
  } finally {
    await opened.source.close();
  }
});

/** A file named `name` in `dir` holding `text`. */
function fileIn(dir: string, name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

// The format comes from the first bytes, not the name: each refusal has
// its own code, names the path as the user gave it, and says why.
const refusals: [string, (dir: string) => string, ErrorCode, RegExp][] = [
  ['a text file', (dir) => fileIn(dir, 'a.npy', 'hello, world\n'), 'not-a-tensor', /not a tensor file/],
  ['an empty file', (dir) => fileIn(dir, 'e.npy', ''), 'not-a-tensor', /empty file/],
  ['a directory', (dir) => dir, 'io', /is a directory/],
  ['a missing path', (dir) => join(dir, 'missing.npy'), 'io', /no such file/],
];
for (const [what, make, code, reason] of refusals) {
  test(`${what} is refused with code '${code}'`, async (t) => {
    const path = make(tempDir(t));
    const err = await t.throwsAsync(openTensor(path), { instanceOf: SmoothL1Error });
    t.is(err?.code, code);
    t.is(err?.file, path);
    t.regex(err?.reason ?? '', reason);
  });
}

test('a key on an .npy file is refused with code key', async (t) => {
  const err = await t.throwsAsync(openTensor(F8, 'loss'), { instanceOf: SmoothL1Error });
  t.like(err, { code: 'key', file: F8 });
});

(canMakeFifo() ? test : test.skip)('a FIFO whose writer sends an .npy is read as a stream', async (t) => {
  const fifo = join(tempDir(t), 'in.npy');
  execFileSync('mkfifo', [fifo]);
  const data = float32Bytes([1, 2, 3, 4, 5, 6]);
  // Opening a FIFO waits for the other end: write while it is being opened.
  const writing = writeFile(fifo, npyBytes('float32', [2, 3], data));
  const opened = await openTensor(fifo);
  try {
    t.is(opened.format, 'npy');
    t.true(opened.sized);
    if (!opened.sized) return;
    t.deepEqual(opened.source.header.shape, [2, 3]);
    // A stream cannot be read by position: its chunks are bytes it has read.
    const chunk = await opened.source.chunk(0, 6);
    t.is(chunk.kind, 'bytes');
    if (chunk.kind !== 'bytes') return;
    t.deepEqual(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), data);
  } finally {
    await opened.source.close();
    await writing;
  }
});
