import { needsSwap, swapInPlace } from '../tensor/byte-order.js';
import { ITEM_SIZE } from '../tensor/dtype.js';
import type { ChunkRef } from '../tensor/tensor.js';
import { readFully } from './read-at.js';

/**
 * Fills `into` with a chunk's bytes in platform byte order: a file range is
 * read straight into it (a worker reads into the kernel's memory, with no
 * copy on the way); bytes from a stream are copied.
 */
export function readChunkInto(ref: ChunkRef, into: Uint8Array): void {
  const { chunk } = ref;
  if (chunk.kind === 'range') {
    let at = 0;
    for (const piece of chunk.pieces) {
      readFully(ref.file, chunk.fd, into.subarray(at, at + piece.byteLength), piece.position);
      at += piece.byteLength;
    }
  } else into.set(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  // Byte order is settled once, here, on bytes this thread owns.
  const itemSize = ITEM_SIZE[ref.dtype];
  if (needsSwap(ref.byteOrder, itemSize)) swapInPlace(into, itemSize);
}
