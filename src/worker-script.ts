import type { WorkerSpec } from './pool.js';

/**
 * Where the worker's code lives. Kept in this one module because a bundled
 * single-executable build starts its workers differently from plain Node.
 */
export const LOSS_WORKER: WorkerSpec = { file: new URL('./worker.js', import.meta.url) };
