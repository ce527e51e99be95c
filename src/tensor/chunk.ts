import { ITEM_SIZE } from './dtype.js';
import type { ChunkRef, FilePiece } from './tensor.js';

/** The part of back-to-back pieces from byte `skip`, `byteLength` long. */
function cutPieces(pieces: readonly FilePiece[], skip: number, byteLength: number): FilePiece[] {
  const cut: FilePiece[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const from = Math.max(skip, offset);
    const to = Math.min(skip + byteLength, offset + piece.byteLength);
    if (from < to) cut.push({ position: piece.position + (from - offset), byteLength: to - from });
    offset += piece.byteLength;
  }
  return cut;
}

/** Elements [first, first + n) of a chunk, described the same way: pieces of a file, or part of a buffer. */
export function sliceChunk(ref: ChunkRef, first: number, n: number): ChunkRef {
  const { chunk } = ref;
  const skip = first * ITEM_SIZE[ref.dtype];
  const byteLength = n * ITEM_SIZE[ref.dtype];
  return {
    ...ref,
    chunk:
      chunk.kind === 'range'
        ? { ...chunk, pieces: cutPieces(chunk.pieces, skip, byteLength), byteLength }
        : { ...chunk, byteOffset: chunk.byteOffset + skip, byteLength },
  };
}
