import { internalError } from '../tensor/errors.js';

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
        this.#failure = err ?? internalError('a sync failed without a reason');
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
