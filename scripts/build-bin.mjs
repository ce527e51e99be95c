#!/usr/bin/env node
// Builds smoothl1 as Node single executable applications (issue 5):
// dist/smoothl1-linux-x64 and dist/smoothl1-linux-arm64.
//
//   node scripts/build-bin.mjs [--arch x64,arm64] [--out DIR]
//
// Not pkg: vercel's pkg and its fork @yao-pkg/pkg download a patched Node base
// binary at build time and fail offline. Node's own SEA takes a stock binary.
//
// Steps: esbuild bundles src/workers/worker.ts to a string, then the CLI to one
// CommonJS file with that string and the version baked in (see
// src/workers/worker-script.ts and src/cli/version.ts); the running node turns the bundle
// into a SEA blob; for each arch a copy of a Node binary of the same version
// is stripped, the blob injected with postject, and the result run once.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE, bundleWorker, packageVersion, ROOT } from './bundle.mjs';

const require = createRequire(import.meta.url);
const POSTJECT = require.resolve('postject/dist/cli.js');
// The fuse Node looks for to know a blob was injected (Node's SEA docs).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// The blob must come from the same Node version as the base binary, or the
// executable segfaults at start: so every base is this version.
const NODE_VERSION = process.version.slice(1);

/** What differs per target CPU. Keys are Node's process.arch names. */
const TARGETS = {
  x64: { triple: 'x86_64-linux-gnu', qemu: 'qemu-x86_64-static' },
  arm64: { triple: 'aarch64-linux-gnu', qemu: 'qemu-aarch64-static' },
};

class BuildError extends Error {}

function parseArgs(argv) {
  const args = { arches: Object.keys(TARGETS), out: join(ROOT, 'dist') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--arch' && value !== undefined) args.arches = value.split(',');
    else if (flag === '--out' && value !== undefined) args.out = resolve(value);
    else throw new BuildError(`usage: build-bin.mjs [--arch ${Object.keys(TARGETS).join(',')}] [--out DIR]`);
    i++;
  }
  const unknown = args.arches.filter((a) => !(a in TARGETS));
  if (unknown.length > 0) throw new BuildError(`unknown --arch ${unknown.join(',')}; known: ${Object.keys(TARGETS).join(', ')}`);
  return args;
}

const log = (line) => process.stderr.write(`build-bin: ${line}\n`);

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

const onPath = (cmd) => (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, cmd)));

const lastLine = (text) => (text ?? '').trim().split('\n').at(-1) ?? '';

async function bundleCli(workerSource, version) {
  const result = await build({
    ...BUNDLE,
    format: 'cjs',
    write: false,
    // The same two lines as bin/smoothl1, which a CommonJS file cannot
    // write with top-level await.
    stdin: {
      contents: "import { start } from './src/cli/main.ts';\nvoid start(process.argv.slice(2));\n",
      resolveDir: ROOT,
      sourcefile: 'sea-main.ts',
      loader: 'ts',
    },
    // In CommonJS import.meta is empty; inside the executable __filename is
    // process.execPath, so relative URLs resolve beside the executable.
    banner: { js: "const __smoothl1ImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: {
      'import.meta.url': '__smoothl1ImportMetaUrl',
      SMOOTHL1_WORKER_SOURCE: JSON.stringify(workerSource),
      SMOOTHL1_VERSION: JSON.stringify(version),
    },
  });
  return result.outputFiles[0].text;
}

/** Code cache and snapshot stay off: they would tie the blob to this machine's CPU (issue 5). */
function makeBlob(work, bundle) {
  const main = join(work, 'smoothl1.cjs');
  const blob = join(work, 'smoothl1.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(main, bundle);
  const seaConfig = { main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false };
  writeFileSync(config, `${JSON.stringify(seaConfig, null, 2)}\n`);
  const r = run(process.execPath, ['--experimental-sea-config', config]);
  if (r.status !== 0) throw new BuildError(`node --experimental-sea-config failed: ${lastLine(r.stderr) || r.error?.message}`);
  return blob;
}

/**
 * A Node binary of NODE_VERSION for `arch`: the running one when it fits,
 * else bin/node from the node-linux-<arch> npm package. `npm install` refuses
 * a foreign CPU, so it is `npm pack`ed and unpacked into a cache.
 */
function baseNode(arch) {
  if (process.platform === 'linux' && process.arch === arch) return process.execPath;
  const name = `node-linux-${arch}@${NODE_VERSION}`;
  const cache = join(ROOT, 'node_modules/.cache/smoothl1-bin');
  const node = join(cache, `node-linux-${arch}-${NODE_VERSION}`);
  if (existsSync(node)) return node;
  log(`fetching ${name} from the npm registry`);
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(`${node}.tmp-`);
  try {
    const pack = run('npm', ['pack', name, '--pack-destination', tmp, '--json']);
    if (pack.status !== 0) {
      const why = pack.error?.message ?? npmErrorSummary(pack.stdout, pack.stderr);
      throw new BuildError(
        `cannot fetch the ${arch} base binary: \`npm pack ${name}\` failed (${why || `exit ${pack.status}`}). ` +
          `It comes from the npm registry, which must be reachable (or in npm's cache); ` +
          `to build only the other targets, pass --arch ${Object.keys(TARGETS).filter((a) => a !== arch).join(',')}.`,
      );
    }
    const [{ filename }] = JSON.parse(pack.stdout);
    const untar = run('tar', ['-xzf', join(tmp, filename), '-C', tmp, 'package/bin/node']);
    if (untar.status !== 0) throw new BuildError(`cannot unpack ${filename}: ${lastLine(untar.stderr) || untar.error?.message}`);
    // Rename into place so that a concurrent or interrupted build never sees half a binary.
    renameSync(join(tmp, 'package/bin/node'), node);
  } catch (err) {
    if (!existsSync(node)) throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return node;
}

/** npm --json puts its error on stdout as {error: {summary}}; else the first `npm error` line. */
function npmErrorSummary(stdout, stderr) {
  try {
    const summary = JSON.parse(stdout)?.error?.summary;
    if (typeof summary === 'string' && summary !== '') return summary;
  } catch {
    // Not JSON: fall back to stderr.
  }
  return stderr.split('\n').find((l) => /^npm error \S/.test(l))?.replace(/^npm error /, '') ?? '';
}

/** Strips in place with the first tool that knows the CPU; false if none does. */
function strip(file, arch) {
  const tools = [`${TARGETS[arch].triple}-strip`, ...(process.arch === arch ? ['strip'] : []), 'llvm-strip'];
  return tools.some((tool) => run(tool, [file]).status === 0);
}

/**
 * Runs `exe --version` with an empty environment, under qemu for a foreign
 * CPU: true/false, or undefined when this machine cannot run it.
 */
function versionWorks(exe, arch, version) {
  const { triple, qemu } = TARGETS[arch];
  const sysroot = `/usr/${triple}`;
  const command =
    process.arch === arch ? [exe] : onPath(qemu) && existsSync(sysroot) ? [qemu, '-L', sysroot, exe] : undefined;
  if (command === undefined) return undefined;
  const r = run(command[0], [...command.slice(1), '--version'], { env: {} });
  return r.status === 0 && r.stdout.trim() === version;
}

/**
 * Strip before injecting: stripping after it drops what postject added and
 * the executable segfaults. A stripped base that fails its check is
 * rebuilt unstripped.
 */
function inject(base, blob, target, arch, version) {
  const attempt = (stripIt) => {
    copyFileSync(base, target);
    chmodSync(target, 0o755);
    const stripped = stripIt && strip(target, arch);
    const r = run(process.execPath, [POSTJECT, target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    // postject's ELF library prints many harmless warnings: show them only on failure.
    if (r.status !== 0) throw new BuildError(`postject failed on ${target}:\n${r.stderr}`);
    return { stripped, works: versionWorks(target, arch, version) };
  };
  let result = attempt(true);
  if (result.stripped && result.works === false) result = attempt(false);
  if (result.works === false) throw new BuildError(`${target} does not print its version: the build is broken`);
  return result;
}

async function main() {
  const { arches, out } = parseArgs(process.argv.slice(2));
  const version = packageVersion();
  mkdirSync(out, { recursive: true });
  const work = join(out, 'sea');
  mkdirSync(work, { recursive: true });
  const workerSource = await bundleWorker();
  const blob = makeBlob(work, await bundleCli(workerSource, version));
  for (const arch of arches) {
    const final = join(out, `smoothl1-linux-${arch}`);
    const tmp = `${final}.tmp`;
    try {
      const { stripped, works } = inject(baseNode(arch), blob, tmp, arch, version);
      renameSync(tmp, final);
      const mb = (statSync(final).size / 1e6).toFixed(1);
      const check = works === undefined ? 'not run here (no qemu)' : '--version ok';
      log(`${final}: ${mb} MB, ${stripped ? 'stripped' : 'not stripped'}, ${check}`);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

main().catch((err) => {
  log(err instanceof BuildError ? err.message : (err?.stack ?? String(err)));
  process.exitCode = 1;
});
