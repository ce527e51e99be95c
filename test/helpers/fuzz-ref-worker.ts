/**
 * A child process that runs the library references of fuzz-arrow.ts
 * (flechette, apache-arrow) on inputs smoothl1 accepted: they trust the
 * metadata in ways smoothl1 does not need to, and one ran out of memory on
 * a fuzzed file (a dictionary with a corrupt length), which in the test
 * process would have killed the suite. Here it kills only this process;
 * fuzz-ref-client.ts starts another. Imports nothing that loads ava.
 */
import { readArrowRef, readArrowRefArrowJs, type ArrowVerdict } from './fuzz-arrow.js';

interface Request {
  readonly id: number;
  readonly which: 'flechette' | 'apache-arrow';
  readonly bytes: Uint8Array;
  readonly name: string;
}

process.on('message', (m: Request) => {
  const verdict: ArrowVerdict = m.which === 'flechette' ? readArrowRef(m.bytes, m.name) : readArrowRefArrowJs(m.bytes, m.name);
  process.send?.({ id: m.id, verdict });
});
