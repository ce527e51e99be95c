import { readSync } from 'node:fs';
import type { Chunk } from '../../src/tensor.js';

/** A chunk's bytes, wherever they are: a byte range is read as a worker reads it. */
export function chunkBytes(c: Chunk): Uint8Array {
  if (c.kind === 'bytes') return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  const out = new Uint8Array(c.byteLength);
  for (let filled = 0; filled < out.length; ) {
    const n = readSync(c.fd, out, filled, out.length - filled, c.position + filled);
    if (n === 0) throw new Error('range past the end of the file');
    filled += n;
  }
  return out;
}
