import { NUMPY_TOOL } from './paths.js';
import { runToExit } from './spawn.js';

export const PYTHON = 'python3';

/**
 * The environment for any process that imports NumPy. OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE may be set on these machines for other work; a forced core
 * type can make OpenBLAS pick a slow or illegal kernel, so they are dropped
 * for NumPy's commands only, never for smoothl1's.
 */
export function numpyEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

/** Runs numpy_tool.py (untimed work: generation, references, checks) and returns its stdout. */
export async function runNumpyTool(args: readonly string[]): Promise<string> {
  const run = await runToExit(PYTHON, [NUMPY_TOOL, ...args], numpyEnv());
  if (run.code === 0) return run.stdout;
  const lastLine = run.stderr.trim().split('\n').pop() ?? '';
  throw new Error(`numpy_tool.py ${args[0] ?? ''} failed (exit ${String(run.code)}): ${lastLine}`);
}
