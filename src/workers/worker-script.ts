import type { WorkerSpec } from './pool.js';

/**
 * The bundled worker's source, set by scripts/build-bin.mjs through esbuild's
 * `define` when it builds the single executable. There is no worker.js on
 * disk inside the executable, and `new Worker(process.execPath)` would parse
 * the ELF binary as JavaScript, so there the worker starts from source with
 * `eval: true` (Node's single executable applications give no file system
 * for embedded scripts: https://nodejs.org/api/single-executable-applications.html).
 * Under plain Node nothing defines it.
 */
declare const SMOOTHL1_WORKER_SOURCE: string | undefined;

/**
 * The bundled worker's file name beside the bundled CLI, set by
 * scripts/bundle.mjs. Under tsc's output nothing defines it.
 */
declare const SMOOTHL1_WORKER_FILE: string | undefined;

/**
 * Where the worker's code lives. Kept in this one module because a bundled
 * single-executable build starts its workers differently from plain Node.
 */
export const LOSS_WORKER: WorkerSpec =
  typeof SMOOTHL1_WORKER_SOURCE === 'string'
    ? { source: SMOOTHL1_WORKER_SOURCE }
    : { file: new URL(typeof SMOOTHL1_WORKER_FILE === 'string' ? SMOOTHL1_WORKER_FILE : './worker.js', import.meta.url) };
