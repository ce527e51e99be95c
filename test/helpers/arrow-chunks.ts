import { readSync } from 'node:fs';
import type { Chunk } from '../../src/tensor/tensor.js';

/** A chunk's bytes, wherever they are: a range's pieces are read one after another, as a worker reads them. */
export function chunkBytes(c: Chunk): Uint8Array {
  if (c.kind === 'bytes') return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  const out = new Uint8Array(c.byteLength);
  let at = 0;
  for (const piece of c.pieces) {
    for (let filled = 0; filled < piece.byteLength; ) {
      const n = readSync(c.fd, out, at + filled, piece.byteLength - filled, piece.position + filled);
      if (n === 0) throw new Error('range past the end of the file');
      filled += n;
    }
    at += piece.byteLength;
  }
  if (at !== c.byteLength) throw new Error(`pieces hold ${at} bytes, the chunk says ${c.byteLength}`);
  return out;
}
