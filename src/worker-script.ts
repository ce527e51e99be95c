/**
 * Where the worker's code lives. Kept in one place because a bundled or
 * single-executable build starts workers differently from plain Node.
 */
export const WORKER_SCRIPT = new URL('./worker.js', import.meta.url);
