import test from 'ava';
import { closeSync, constants, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { smoothL1Loss } from '../../src/pipeline/loss.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { FIXTURES } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// Library users call smoothL1Loss many times in one process. Whatever each
// call does, succeed or fail, on a file, a FIFO or the worker pool, it must
// give back every descriptor it opened and every object it made.

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

test('1,000 succeeding and failing calls leave the open descriptors and the heap where they were', async (t) => {
  const dir = tempDir(t);
  const pred = `${FIXTURES}example/pred.npy`;
  const target = `${FIXTURES}example/target.npy`;
  const text = join(dir, 'text.npy');
  writeFileSync(text, 'not a tensor, just text');
  const short = join(dir, 'short.npy');
  writeFileSync(short, readFileSync(pred).subarray(0, 200));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const out = join(dir, 'out.npy');

  /** A FIFO whose writer (this process, holding both ends) has sent `bytes` and keeps it open. */
  const fifoCall = async (bytes: Uint8Array): Promise<unknown> => {
    const writer = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeSync(writer, bytes);
      return await smoothL1Loss(fifo, target);
    } finally {
      closeSync(writer);
    }
  };
  const calls: readonly (() => Promise<unknown>)[] = [
    () => smoothL1Loss(pred, target),
    () => smoothL1Loss(pred, target, { reduction: 'none', output: out }),
    () => smoothL1Loss(join(dir, 'missing.npy'), target),
    () => smoothL1Loss(text, target),
    () => smoothL1Loss(short, target),
    () => smoothL1Loss(pred, `${FIXTURES}f8-le-3x4.npy`),
    () => smoothL1Loss(pred, target, { inputColumn: 'x' }),
    () => fifoCall(new TextEncoder().encode('garbage that is no tensor')),
  ];
  const pooled = (): Promise<unknown> => smoothL1Loss(pred, target, { threads: 2, poolMinElements: 0, chunkElements: 4096 });

  // Once each first, so that lazily loaded modules and caches are in place before counting.
  for (const call of [...calls, pooled]) await call().catch(() => undefined);
  const descriptors = openDescriptors();
  const heap = await settledHeap();

  let failures = 0;
  for (let i = 0; i < 1000; i++) {
    // One call in fifty starts and stops the worker pool; the rest cycle through the cases.
    const call = i % 50 === 49 ? pooled : calls[i % calls.length]!;
    try {
      await call();
    } catch (err) {
      t.true(err instanceof SmoothL1Error, String(err));
      failures++;
    }
  }
  t.true(failures > 500, `${failures} of 1000 calls failed`);
  t.is(openDescriptors(), descriptors, 'open descriptors');
  const grown = (await settledHeap()) - heap;
  t.true(grown < 4 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(2)} MiB`);
});
