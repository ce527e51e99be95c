import test from 'ava';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { WorkerPool } from '../../src/workers/pool.js';

// Pools over tiny evaluated scripts: the pool knows nothing of losses, so it
// is tested with workers that echo, fail or die on purpose.

const ECHO = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ taskId, task }) => {
  if (task.die) process.exit(3);
  if (task.fail) return parentPort.postMessage({ taskId, result: null, error: { code: 'corrupt', file: 'x.npy', reason: 'bad data' } });
  if (task.throwNow) throw new Error('boom');
  const buf = task.buffer;
  new Uint8Array(buf)[0] += 1;
  parentPort.postMessage({ taskId, result: { n: task.n * 2, buffer: buf }, error: null }, buf ? [buf] : []);
});
`;

interface Task {
  readonly n: number;
  readonly buffer?: ArrayBuffer;
  readonly die?: boolean;
  readonly fail?: boolean;
  readonly throwNow?: boolean;
  readonly notCloneable?: () => number;
}
interface Result {
  readonly n: number;
  readonly buffer?: ArrayBuffer;
}

test('tasks are answered by task id, whatever worker runs them', async (t) => {
  const pool = new WorkerPool<Task, Result>(3, { source: ECHO });
  t.teardown(() => pool.close());
  const results = await Promise.all(Array.from({ length: 20 }, (_, n) => pool.run({ n }, [])));
  t.deepEqual(results.map((r) => r.n), Array.from({ length: 20 }, (_, n) => n * 2));
});

test('a transferred buffer moves: empty here after sending, whole when it comes back', async (t) => {
  const pool = new WorkerPool<Task, Result>(1, { source: ECHO });
  t.teardown(() => pool.close());
  const buffer = new ArrayBuffer(16);
  const pending = pool.run({ n: 1, buffer }, [buffer]);
  t.is(buffer.byteLength, 0, 'detached on send');
  const back = await pending;
  t.is(back.buffer?.byteLength, 16);
  t.is(new Uint8Array(back.buffer ?? new ArrayBuffer(1))[0], 1);
});

test("a worker's error comes back as a SmoothL1Error with its code and file", async (t) => {
  const pool = new WorkerPool<Task, Result>(1, { source: ECHO });
  t.teardown(() => pool.close());
  const err = await t.throwsAsync(pool.run({ n: 1, fail: true }, []), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'corrupt');
  t.is(err?.file, 'x.npy');
  t.is(err?.reason, 'bad data');
});

test('a worker that exits fails its tasks instead of hanging', async (t) => {
  const pool = new WorkerPool<Task, Result>(1, { source: ECHO });
  t.teardown(() => pool.close());
  const err = await t.throwsAsync(pool.run({ n: 1, die: true }, []), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'worker');
  t.regex(err?.message ?? '', /worker thread failed: exited with code 3/);
  await t.throwsAsync(pool.run({ n: 2 }, []), { message: /worker thread failed/ }, 'later tasks fail too');
});

test('a worker that throws fails its tasks', async (t) => {
  const pool = new WorkerPool<Task, Result>(1, { source: ECHO });
  t.teardown(() => pool.close());
  await t.throwsAsync(pool.run({ n: 1, throwNow: true }, []), { message: /worker thread failed: boom/ });
});

// A task that cannot be posted (here, it holds a function) gets no
// answer: its entry must not stay pending, or a library that calls many
// times would leak one per failure.
test('a task that cannot be sent fails at once and leaves nothing pending', async (t) => {
  const pool = new WorkerPool<Task, Result>(1, { source: ECHO });
  t.teardown(() => pool.close());
  const err = await t.throwsAsync(pool.run({ n: 1, notCloneable: () => 1 }, []), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'internal');
  t.is(pool.inFlight, 0);
  t.like(await pool.run({ n: 2 }, []), { n: 4 }, 'the pool still works');
  t.is(pool.inFlight, 0);
});
