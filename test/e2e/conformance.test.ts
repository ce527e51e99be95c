import test from 'ava';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { caseArgs, checkCase, CONFORMANCE_CASES } from '../helpers/conformance.js';
import { tempDir } from '../helpers/tmp.js';

// Every case through the real CLI: one thread, the default pool, and a
// 4096-element chunk so that even small cases cross chunk boundaries.
const runs: { title: string; args: readonly string[]; env: Record<string, string> }[] = [
  { title: '--threads 1', args: ['--threads', '1'], env: {} },
  { title: 'default threads', args: [], env: {} },
  { title: '--threads 2, small chunks', args: ['--threads', '2'], env: { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' } },
];

for (const c of CONFORMANCE_CASES) {
  for (const run of runs) {
    test(`conformance ${c.name} (${run.title})`, async (t) => {
      const out = join(tempDir(t, 'smoothl1-conf-'), 'out.npy');
      const r = await runCli([...caseArgs(c, out), ...run.args], { env: run.env });
      checkCase(t, c, r, out);
    });
  }
}
