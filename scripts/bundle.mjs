#!/usr/bin/env node
// Bundles what bin/smoothl1 runs into dist/bundle/ (part of `npm run build`):
// the CLI as ES modules, and the worker as one CommonJS file.
//
// Why: starting Node is most of a small run's time, and resolving and
// loading tsc's two dozen separate modules added about 20 ms to it on the
// main thread and 20 ms more to every worker (an ES module worker also
// starts slower than a CommonJS one). apache-arrow stays in chunks of its
// own that load only when an Arrow file is read or written.
//
// The library (dist/src, the package's main) stays tsc's output; the
// single executable (scripts/build-bin.mjs) bundles with the same options.
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const OUT = join(ROOT, 'dist/bundle');
/** The worker's file name beside the bundled CLI. */
export const WORKER_FILE = 'worker.cjs';

/** Options every bundle shares: Node 20, everything inlined. */
export const BUNDLE = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

export const packageVersion = () => JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

/** The worker as one CommonJS file: written to `outfile`, or returned as text when there is none. */
export async function bundleWorker(outfile) {
  const result = await build({
    ...BUNDLE,
    format: 'cjs',
    entryPoints: [join(ROOT, 'src/workers/worker.ts')],
    ...(outfile === undefined ? { write: false } : { outfile }),
  });
  return outfile === undefined ? result.outputFiles[0].text : outfile;
}

async function bundleCli() {
  await build({
    ...BUNDLE,
    format: 'esm',
    splitting: true,
    entryPoints: { cli: join(ROOT, 'src/cli/main.ts') },
    outdir: OUT,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    // commander is CommonJS and requires Node's built-ins, which an ES module has no require() for.
    banner: { js: "import { createRequire as __smoothl1Require } from 'node:module'; const require = __smoothl1Require(import.meta.url);" },
    // There is no package.json three levels above dist/bundle/ (see src/cli/version.ts and src/workers/worker-script.ts).
    define: {
      SMOOTHL1_VERSION: JSON.stringify(packageVersion()),
      SMOOTHL1_WORKER_FILE: JSON.stringify(`./${WORKER_FILE}`),
    },
  });
}

/** Whether this file is the script node was started with (through a link or not), rather than imported. */
export const isMain = (url) => process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(url);

if (isMain(import.meta.url)) {
  // Chunk names carry content hashes: clear out the last build's.
  rmSync(OUT, { recursive: true, force: true });
  await Promise.all([bundleCli(), bundleWorker(join(OUT, WORKER_FILE))]);
}
