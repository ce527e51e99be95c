import test from 'ava';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFORMANCE, runCli } from '../helpers/cli.js';
import { caseArgs, checkCase, CONFORMANCE_CASES } from '../helpers/conformance.js';
import { npyToArrow } from '../helpers/npy-to-arrow.js';
import { tempDir } from '../helpers/tmp.js';

// Every conformance case whose inputs Arrow can hold (valid .npy files, not
// 0-d) again, with both inputs rewritten as an Arrow IPC file and as an IPC
// stream, in batches of 7 rows (1000 for the large cases, whose hundred
// thousand tiny batches would only time apache-arrow's per-message
// overhead): the results must be the same as for .npy.
// Cases about broken .npy files have nothing to convert and stay with the
// .npy suite.

const FORMATS = [
  { format: 'file', ext: 'arrow' },
  { format: 'stream', ext: 'arrows' },
] as const;

function convertible(file: string): boolean {
  try {
    return existsSync(join(CONFORMANCE, file)) && npyToArrow(join(CONFORMANCE, file), 'file') !== undefined;
  } catch {
    return false;
  }
}

const cases = CONFORMANCE_CASES.filter((c) => convertible(c.input) && convertible(c.label));

test('most of the corpus converts to Arrow', (t) => {
  t.true(cases.length >= 28, `${cases.length} of ${CONFORMANCE_CASES.length}`);
});

for (const c of cases) {
  for (const { format, ext } of FORMATS) {
    test(`conformance ${c.name} as Arrow ${format}s`, async (t) => {
      const dir = tempDir(t, 'smoothl1-arrow-conf-');
      const convert = (file: string, name: string): string => {
        const path = join(dir, `${name}.${ext}`);
        const npy = join(CONFORMANCE, file);
        writeFileSync(path, npyToArrow(npy, format, statSync(npy).size > 65536 ? 1000 : 7) ?? new Uint8Array(0));
        return path;
      };
      const arrowCase = { ...c, input: convert(c.input, 'input'), label: convert(c.label, 'label') };
      const out = join(dir, 'out.npy');
      const r = await runCli([...caseArgs(arrowCase, out), '--threads', '2'], { env: { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' } });
      checkCase(t, c, r, out);
    });
  }
}

test('a stream on stdin gives the same result as the .npy file it was made from', async (t) => {
  const c = CONFORMANCE_CASES.find((x) => x.name === 'chunk_boundaries_none');
  if (c === undefined) return t.fail('case chunk_boundaries_none is gone from the corpus');
  const out = join(tempDir(t), 'out.npy');
  const stream = npyToArrow(join(CONFORMANCE, c.input), 'stream', 1000) ?? new Uint8Array(0);
  const args = caseArgs({ ...c, input: '-' }, out);
  const r = await runCli([...args, '--threads', '2'], { stdin: stream, env: { SMOOTHL1_CHUNK_ELEMENTS: '4096', SMOOTHL1_POOL_MIN_ELEMENTS: '0' } });
  checkCase(t, c, r, out);
  t.true(readFileSync(out).length > 0);
});
