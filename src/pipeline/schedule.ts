import { shapeMismatch } from '../tensor/errors.js';
import type { TensorSource } from '../tensor/tensor.js';

/**
 * Checks that two tensors can be paired element by element: equal shapes
 * (no broadcasting) and the same storage order, so that chunk i of one
 * holds the same logical elements as chunk i of the other.
 */
export function checkPairable(input: TensorSource, label: TensorSource): void {
  const a = input.header.shape;
  const b = label.header.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw shapeMismatch(label.header.file, a, b);
}

/**
 * Works through consecutive element ranges [0, chunkElements), … : `acquire`
 * gets each range's inputs, strictly one after another and in range order
 * (so sequential readers such as stdin can serve it); `run` computes on them,
 * with at most `maxInFlight` running at once; `consume` gets the results
 * strictly in range order, whatever order they finish in.
 */
export async function forEachChunkInOrder<I, R>(
  count: number,
  chunkElements: number,
  maxInFlight: number,
  acquire: (first: number, n: number) => Promise<I>,
  run: (inputs: I) => Promise<R>,
  consume: (result: R, first: number, n: number) => Promise<void>,
): Promise<void> {
  const inFlight: { promise: Promise<R>; first: number; n: number }[] = [];
  let next = 0;
  try {
    while (next < count || inFlight.length > 0) {
      while (next < count && inFlight.length < maxInFlight) {
        const n = Math.min(chunkElements, count - next);
        const promise = run(await acquire(next, n));
        // Settled later, in order; until then a failure must not count as unhandled.
        promise.catch(() => undefined);
        inFlight.push({ promise, first: next, n });
        next += n;
      }
      const head = inFlight.shift();
      if (head !== undefined) await consume(await head.promise, head.first, head.n);
    }
  } finally {
    // Let the rest settle so that no buffer is still in use when the caller cleans up.
    await Promise.allSettled(inFlight.map((t) => t.promise));
  }
}

/**
 * Keeps one `sync` running in the background, started again by poke() once
 * the last has finished, so that the disk writes back while the computation
 * goes on and the final sync has little left to do. The first failure is
 * kept and thrown by settle(): Linux reports a write-back error to a file
 * descriptor once, so the final sync might not see it again.
 */
export class SyncBehind {
  readonly #sync: () => Promise<void>;
  #running: Promise<void> | undefined;
  #failure: unknown;

  constructor(sync: () => Promise<void>) {
    this.#sync = sync;
  }

  poke(): void {
    if (this.#running !== undefined || this.#failure !== undefined) return;
    this.#running = this.#sync().then(
      () => {
        this.#running = undefined;
      },
      (err: unknown) => {
        this.#failure = err ?? new Error('sync failed');
        this.#running = undefined;
      },
    );
  }

  /** Waits for a running sync; throws the first failure, if any. */
  async settle(): Promise<void> {
    await this.#running;
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/**
 * Writes in order, behind the computation: push() queues a write after the
 * ones before it and returns at once, unless more than `depth` are still
 * outstanding, in which case it waits for the oldest (back-pressure). A
 * failed write fails every push and drain after it.
 */
export class WriteBehind {
  readonly #depth: number;
  #tail: Promise<void> = Promise.resolve();
  readonly #outstanding: Promise<void>[] = [];

  constructor(depth: number) {
    this.#depth = depth;
  }

  async push(write: () => Promise<void>): Promise<void> {
    const done = this.#tail.then(write);
    // Awaited in order below or in drain(); until then a failure must not count as unhandled.
    done.catch(() => undefined);
    this.#tail = done;
    this.#outstanding.push(done);
    while (this.#outstanding.length > this.#depth) await this.#outstanding.shift();
  }

  /** Waits for every queued write. */
  async drain(): Promise<void> {
    await this.#tail;
    this.#outstanding.length = 0;
  }
}
