// A long run of the fuzz suite (test/fuzz/, issue 12 "Bad input, fuzzed"),
// after `npm run build`: `npm run fuzz -- --runs 100000 [--seed S]`.
//
//   --runs N     mutated inputs over all the properties (default 100000;
//                `npm test` runs 4000), shared out by weight
//   --seed S     fast-check's seed (default: a random one, printed);
//                batch k of a property runs with seed S + k
//   --path P     with --seed, replays the one counterexample fast-check
//                printed (its `path`)
//   --batch B    the most runs in one ava test (default 5000)
//   --timeout T  ava's timeout, reset by each test's result (default 10m)
//   --match M    only the tests whose title matches M (ava's --match)
//
// Everything after `--` goes to ava as it is. The exit status is ava's.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function usage(message) {
  process.stderr.write(`fuzz: ${message}\nusage: npm run fuzz -- [--runs N] [--seed S [--path P]] [--batch B] [--timeout T] [--match M] [-- ava options]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const options = { runs: '100000', seed: undefined, path: undefined, batch: '5000', timeout: '10m', match: undefined };
const passThrough = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--') {
    passThrough.push(...args.slice(i + 1));
    break;
  }
  const m = /^--(runs|seed|path|batch|timeout|match)(?:=(.*))?$/.exec(arg);
  if (m === null) usage(`unknown argument '${arg}'`);
  const value = m[2] ?? args[++i];
  if (value === undefined) usage(`--${m[1]} needs a value`);
  options[m[1]] = value;
}
for (const name of ['runs', 'batch']) {
  if (!/^\d+$/.test(options[name]) || Number(options[name]) < 1) usage(`--${name} must be a positive integer, got '${options[name]}'`);
}
if (options.seed !== undefined && !/^-?\d+$/.test(options.seed)) usage(`--seed must be an integer, got '${options.seed}'`);
if (options.path !== undefined && options.seed === undefined) usage('--path replays a counterexample of one seed: give --seed too');
if (!existsSync(`${root}dist/test/fuzz/npy.test.js`)) usage('dist/test/fuzz/ is missing: run `npm run build` first (npm run fuzz does)');

const seed = options.seed ?? String((Date.now() ^ Math.floor(Math.random() * 2 ** 32)) | 0);
const env = {
  ...process.env,
  SMOOTHL1_FUZZ_RUNS: options.runs,
  SMOOTHL1_FUZZ_SEED: seed,
  SMOOTHL1_FUZZ_BATCH: options.batch,
  ...(options.path === undefined ? {} : { SMOOTHL1_FUZZ_PATH: options.path }),
};
process.stdout.write(`fuzz: ${options.runs} inputs, seed ${seed} (again: npm run fuzz -- --runs ${options.runs} --seed ${seed})\n`);

const ava = [`${root}node_modules/ava/entrypoints/cli.mjs`, 'dist/test/fuzz/', '--timeout', options.timeout, ...(options.match === undefined ? [] : ['--match', options.match]), ...passThrough];
const started = Date.now();
const child = spawn(process.execPath, ava, { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('close', (code, signal) => {
  process.stdout.write(`fuzz: ${options.runs} inputs, seed ${seed}: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.exit(code ?? (signal === null ? 1 : 128 + 15));
});
