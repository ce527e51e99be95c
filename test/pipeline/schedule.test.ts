import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { forEachChunkInOrder } from '../../src/pipeline/schedule.js';

interface Range {
  readonly first: number;
  readonly n: number;
}

/** What a run of forEachChunkInOrder did, recorded from inside its callbacks. */
interface Trace {
  acquired: Range[];
  ran: Range[];
  consumed: Range[];
  /** Runs started minus consumes started, when each run started. */
  inFlightAtRun: number[];
  acquiring: number;
  maxConcurrentAcquires: number;
  consuming: number;
  maxConcurrentConsumes: number;
  mismatches: string[];
  settled: Set<number>;
}

const newTrace = (): Trace => ({
  acquired: [],
  ran: [],
  consumed: [],
  inFlightAtRun: [],
  acquiring: 0,
  maxConcurrentAcquires: 0,
  consuming: 0,
  maxConcurrentConsumes: 0,
  mismatches: [],
  settled: new Set(),
});

interface Failure {
  readonly stage: 'acquire' | 'run' | 'consume';
  readonly at: number;
}

/**
 * Runs forEachChunkInOrder with every acquire, run and consume resolved when
 * fast-check's scheduler chooses, so runs finish in arbitrary orders.
 */
async function traced(
  s: fc.Scheduler,
  count: number,
  chunk: number,
  maxInFlight: number,
  failure: Failure | null = null,
): Promise<{ trace: Trace; outcome: PromiseSettledResult<void> }> {
  const trace = newTrace();
  const fails = (stage: Failure['stage'], index: number): boolean => failure !== null && failure.stage === stage && failure.at === index;
  const done = forEachChunkInOrder<Range, Range & { index: number }>(
    count,
    chunk,
    maxInFlight,
    async (first, n) => {
      const index = trace.acquired.length;
      trace.acquired.push({ first, n });
      trace.acquiring++;
      trace.maxConcurrentAcquires = Math.max(trace.maxConcurrentAcquires, trace.acquiring);
      await s.schedule(Promise.resolve(), `acquire ${first}`);
      trace.acquiring--;
      if (fails('acquire', index)) throw new Error(`acquire ${index} failed`);
      return { first, n };
    },
    async (range) => {
      const index = trace.ran.length;
      trace.ran.push(range);
      trace.inFlightAtRun.push(trace.ran.length - trace.consumed.length);
      try {
        await s.schedule(Promise.resolve(), `run ${range.first}`);
        if (fails('run', index)) throw new Error(`run ${index} failed`);
        return { ...range, index };
      } finally {
        trace.settled.add(index);
      }
    },
    async (result, first, n) => {
      const index = trace.consumed.length;
      trace.consumed.push({ first, n });
      if (result.first !== first || result.n !== n) trace.mismatches.push(`result for ${result.first} handed over as ${first}`);
      trace.consuming++;
      trace.maxConcurrentConsumes = Math.max(trace.maxConcurrentConsumes, trace.consuming);
      await s.schedule(Promise.resolve(), `consume ${first}`);
      trace.consuming--;
      if (fails('consume', index)) throw new Error(`consume ${index} failed`);
    },
  );
  const [outcome] = await Promise.allSettled([s.waitFor(done)]);
  return { trace, outcome: outcome! };
}

/** The ranges [0, chunk), [chunk, 2 chunk), … covering count elements. */
function expectedRanges(count: number, chunk: number): Range[] {
  const out: Range[] = [];
  for (let first = 0; first < count; first += chunk) out.push({ first, n: Math.min(chunk, count - first) });
  return out;
}

const shapeArb = fc.record({
  count: fc.integer({ min: 0, max: 60 }),
  chunk: fc.integer({ min: 1, max: 12 }),
  maxInFlight: fc.integer({ min: 1, max: 6 }),
});

testProp(
  'covers every element once, in range order, and consumes in order whatever order runs finish in',
  [fc.scheduler(), shapeArb],
  async (t, s, { count, chunk, maxInFlight }) => {
    const { trace, outcome } = await traced(s, count, chunk, maxInFlight);
    t.is(outcome.status, 'fulfilled');
    const want = expectedRanges(count, chunk);
    t.deepEqual(trace.acquired, want, 'acquired in range order');
    t.deepEqual(trace.ran, want, 'run in range order');
    t.deepEqual(trace.consumed, want, 'consumed in range order');
    t.deepEqual(trace.mismatches, [], 'each result handed to consume with its own range');
  },
  { numRuns: 200 },
);

testProp(
  'never more than maxInFlight runs unconsumed, and the pipeline does fill up to it',
  [fc.scheduler(), shapeArb],
  async (t, s, { count, chunk, maxInFlight }) => {
    const { trace } = await traced(s, count, chunk, maxInFlight);
    const chunks = Math.ceil(count / chunk);
    t.true(
      trace.inFlightAtRun.every((k) => k <= maxInFlight),
      `in flight ${JSON.stringify(trace.inFlightAtRun)} > ${maxInFlight}`,
    );
    t.is(Math.max(0, ...trace.inFlightAtRun), Math.min(maxInFlight, chunks));
  },
  { numRuns: 150 },
);

testProp(
  'acquires never overlap (sequential readers can serve them), nor do consumes',
  [fc.scheduler(), shapeArb],
  async (t, s, { count, chunk, maxInFlight }) => {
    const { trace } = await traced(s, count, chunk, maxInFlight);
    t.true(trace.maxConcurrentAcquires <= 1);
    t.true(trace.maxConcurrentConsumes <= 1);
  },
  { numRuns: 150 },
);

testProp(
  'a failure in acquire, run or consume rejects with that error, after every started run has settled, and nothing later is consumed',
  [
    fc.scheduler(),
    shapeArb.filter((c) => c.count > 0),
    fc.constantFrom('acquire' as const, 'run' as const, 'consume' as const),
    fc.nat(),
  ],
  async (t, s, { count, chunk, maxInFlight }, stage, at) => {
    const chunks = Math.ceil(count / chunk);
    const failure = { stage, at: at % chunks };
    const { trace, outcome } = await traced(s, count, chunk, maxInFlight, failure);
    if (outcome.status !== 'rejected') return t.fail('must reject');
    t.true(outcome.reason instanceof Error && outcome.reason.message === `${stage} ${failure.at} failed`, String(outcome.reason));
    t.is(trace.settled.size, trace.ran.length, 'every started run settled before the rejection');
    // Consumes happen in order and stop at the failure.
    const lastConsumed = stage === 'consume' ? failure.at : failure.at - 1;
    t.true(trace.consumed.length <= lastConsumed + 1, `consumed ${trace.consumed.length}`);
    if (stage === 'consume') t.is(trace.consumed.length, failure.at + 1);
  },
  { numRuns: 200 },
);

test('a run that fails after a later one has failed: the earlier range\'s error is reported', async (t) => {
  const resolvers: ((err: Error) => void)[] = [];
  const done = forEachChunkInOrder(
    3,
    1,
    3,
    (first) => Promise.resolve(first),
    (first) =>
      new Promise<number>((_, reject) => {
        resolvers[first] = reject;
      }),
    () => Promise.resolve(),
  );
  // Let all three runs start, then fail the last one first.
  await new Promise((r) => setImmediate(r));
  t.is(resolvers.length, 3);
  resolvers[2]!(new Error('third'));
  resolvers[0]!(new Error('first'));
  resolvers[1]!(new Error('second'));
  await t.throwsAsync(done, { message: 'first' });
});

test('count 0 starts nothing', async (t) => {
  let calls = 0;
  await forEachChunkInOrder(
    0,
    4,
    2,
    () => {
      calls++;
      return Promise.resolve(0);
    },
    () => Promise.resolve(0),
    () => Promise.resolve(),
  );
  t.is(calls, 0);
});
