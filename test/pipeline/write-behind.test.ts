import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { SyncBehind, WriteBehind } from '../../src/pipeline/write-behind.js';

// ------------------------------------------------------------------ WriteBehind

testProp(
  'WriteBehind runs writes one at a time, in push order, with at most depth+1 queued when push returns',
  [fc.integer({ min: 1, max: 4 }), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 20 })],
  async (t, depth, delays) => {
    const queue = new WriteBehind(depth);
    const order: number[] = [];
    let running = 0;
    let started = 0;
    for (const [i, delay] of delays.entries()) {
      await queue.push(async () => {
        started += 1;
        running += 1;
        t.is(running, 1, 'never two writes at once');
        await new Promise((resolve) => setTimeout(resolve, delay));
        order.push(i);
        running -= 1;
      });
      t.true(i + 1 - order.length <= depth, `after push ${i}: ${i + 1 - order.length} unfinished, depth ${depth}`);
    }
    await queue.drain();
    t.deepEqual(order, delays.map((_, i) => i));
    t.is(started, delays.length);
  },
  { numRuns: 30 },
);

test('a failed write fails the pushes after it and drain, and later writes do not run', async (t) => {
  const queue = new WriteBehind(1);
  const ran: number[] = [];
  await queue.push(async () => {
    await Promise.resolve();
    throw new Error('disk full');
  });
  const second = queue.push(async () => {
    ran.push(2);
  });
  await t.throwsAsync(second, { message: 'disk full' });
  await t.throwsAsync(queue.drain(), { message: 'disk full' });
  t.deepEqual(ran, []);
});

// ------------------------------------------------------------------ SyncBehind

test('SyncBehind runs one sync at a time: pokes while one runs start nothing; settle waits for it', async (t) => {
  let started = 0;
  let finish: () => void = () => undefined;
  const syncs = new SyncBehind(() => {
    started++;
    return new Promise<void>((resolve) => {
      finish = resolve;
    });
  });
  syncs.poke();
  syncs.poke();
  syncs.poke();
  t.is(started, 1);
  let settled = false;
  const settling = syncs.settle().then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(settled, 'settle waits for the running sync');
  finish();
  await settling;
  syncs.poke();
  t.is(started, 2, 'a poke after it finished starts the next');
  finish();
  await syncs.settle();
});

test('SyncBehind keeps the first failure for settle, and starts no more syncs after it', async (t) => {
  let started = 0;
  const syncs = new SyncBehind(() => {
    started++;
    return Promise.reject(new Error('EIO'));
  });
  syncs.poke();
  await t.throwsAsync(syncs.settle(), { message: 'EIO' });
  syncs.poke();
  t.is(started, 1);
  await t.throwsAsync(syncs.settle(), { message: 'EIO' }, 'still reported');
});
