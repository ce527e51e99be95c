import { Worker } from 'node:worker_threads';
import { internalError, SmoothL1Error, type ErrorCode } from '../tensor/errors.js';

/** Main thread → worker. */
export interface TaskMessage<T> {
  readonly taskId: number;
  readonly task: T;
}

/** An error as it crosses threads: Error objects lose their class on the way. */
export interface ErrorPayload {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly reason: string;
}

/** Worker → main thread. Exactly one of result and error is set. */
export interface ResponseMessage<R> {
  readonly taskId: number;
  readonly result: R | null;
  readonly error: ErrorPayload | null;
}

export const toErrorPayload = (err: unknown): ErrorPayload =>
  err instanceof SmoothL1Error
    ? { code: err.code, file: err.file, reason: err.reason }
    : { code: 'internal', file: undefined, reason: `internal error in worker: ${err instanceof Error ? err.message : String(err)}` };

export const workerCrashed = (reason: string): SmoothL1Error => new SmoothL1Error('worker', undefined, `worker thread failed: ${reason}`);

interface Pending<R> {
  resolve(result: R): void;
  reject(err: Error): void;
}

function isResponse<R>(msg: unknown): msg is ResponseMessage<R> {
  return typeof msg === 'object' && msg !== null && 'taskId' in msg && typeof msg.taskId === 'number';
}

/**
 * How to start a worker: a script file, or (in a single executable, where
 * there is no script file) the script's source, evaluated.
 */
export type WorkerSpec = { readonly file: URL } | { readonly source: string };

const startWorker = (spec: WorkerSpec): Worker =>
  'file' in spec ? new Worker(spec.file) : new Worker(spec.source, { eval: true });

class PoolWorker<R> {
  readonly pending = new Map<number, Pending<R>>();
  readonly worker: Worker;
  #failure: Error | undefined;

  constructor(spec: WorkerSpec) {
    this.worker = startWorker(spec);
    this.worker.on('message', (msg: unknown) => this.#settle(msg));
    this.worker.on('error', (err: Error) => this.fail(workerCrashed(err.message)));
    this.worker.on('exit', (code: number) => this.fail(workerCrashed(`exited with code ${code}`)));
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** A dead worker fails its tasks rather than leaving them to hang. */
  fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.pending.values()) p.reject(this.#failure);
    this.pending.clear();
  }

  #settle(msg: unknown): void {
    if (!isResponse<R>(msg)) return;
    const p = this.pending.get(msg.taskId);
    if (p === undefined) return;
    this.pending.delete(msg.taskId);
    if (msg.error !== null) p.reject(new SmoothL1Error(msg.error.code, msg.error.file, msg.error.reason));
    else if (msg.result !== null) p.resolve(msg.result);
    else p.reject(workerCrashed('answered with neither result nor error'));
  }
}

/**
 * A fixed set of worker threads running one script. Tasks go to the worker
 * with the fewest in flight; buffers in `transfer` move rather than copy.
 * It knows nothing of what the tasks compute.
 */
export class WorkerPool<T, R> {
  readonly #workers: PoolWorker<R>[];
  #nextId = 0;
  #closed = false;

  constructor(size: number, spec: WorkerSpec) {
    this.#workers = Array.from({ length: size }, () => new PoolWorker<R>(spec));
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Tasks sent and not yet answered. */
  get inFlight(): number {
    return this.#workers.reduce((n, w) => n + w.pending.size, 0);
  }

  run(task: T, transfer: readonly ArrayBuffer[]): Promise<R> {
    const target = this.#workers.reduce((best, w) => (w.pending.size < best.pending.size ? w : best));
    const failed = this.#closed ? workerCrashed('pool is closed') : target.failure;
    if (failed !== undefined) return Promise.reject(failed);
    const taskId = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      target.pending.set(taskId, { resolve, reject });
      const message: TaskMessage<T> = { taskId, task };
      try {
        target.worker.postMessage(message, [...transfer]);
      } catch (err) {
        // Not sent (a value that cannot be cloned, a buffer already transferred): no answer will come.
        target.pending.delete(taskId);
        reject(internalError(`a task could not be sent to a worker: ${err instanceof Error ? err.message : String(err)}`));
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
