import { internalError, SmoothL1Error } from '../tensor/errors.js';
import { newScratch } from '../compute/stage.js';
import { runLossTask, type LossResult, type LossTask } from '../workers/loss-task.js';
import { WorkerPool } from '../workers/pool.js';
import { LOSS_WORKER } from '../workers/worker-script.js';

/** Runs loss tasks somewhere: on this thread or on a pool of workers. Same code, same results. */
export interface LossExecutor {
  /** How many tasks it is worth keeping in flight. */
  readonly parallelism: number;
  run(task: LossTask, transfer: readonly ArrayBuffer[]): Promise<LossResult>;
  close(): Promise<void>;
}

/** For inputs of one chunk, or --threads 1: starting a worker would cost more than it saves. */
export function inlineExecutor(): LossExecutor {
  const scratch = newScratch();
  return {
    parallelism: 1,
    run: (task) => {
      try {
        return Promise.resolve(runLossTask(task, scratch).result);
      } catch (err) {
        // As a worker reports it (toErrorPayload): the code must not depend on the thread count.
        return Promise.reject(err instanceof SmoothL1Error ? err : internalError(err instanceof Error ? err.message : String(err)));
      }
    },
    close: () => Promise.resolve(),
  };
}

export function poolExecutor(threads: number): LossExecutor {
  const pool = new WorkerPool<LossTask, LossResult>(threads, LOSS_WORKER);
  return {
    // Two per worker, so each has its next chunk queued while it works on this one.
    parallelism: threads * 2,
    run: (task, transfer) => pool.run(task, transfer),
    close: () => pool.close(),
  };
}
