import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/bench/ where this file runs. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = `${ROOT}bin/smoothl1`;
/** The standalone executable of issue 5; its rows are skipped until it is built. */
export const EXE = `${ROOT}dist/smoothl1-linux-x64`;
/** Git-ignored (see .gitignore): generated once, reused by later runs. */
export const BENCH_DATA = `${ROOT}bench-data/`;
export const OUTPUT_DIR = `${BENCH_DATA}out/`;
/** The Python helper is not compiled, so it is read from the source tree. */
export const NUMPY_TOOL = `${ROOT}test/bench/numpy_tool.py`;
export const EXAMPLE_INPUT = `${ROOT}fixtures/example/pred.npy`;
export const EXAMPLE_LABEL = `${ROOT}fixtures/example/target.npy`;
