import { closeSync, openSync, readSync } from 'node:fs';
import { openAtomicFile } from '../../src/io/atomic-file.js';
import { parseNpyHeader } from '../../src/formats/npy/read.js';
import { openArrowWriter } from '../../src/formats/arrow/write.js';

/** 16 MiB per read: large reads, bounded memory. */
const READ_BYTES = 16 << 20;

/**
 * Rewrites a little-endian float32 .npy of rank 1 as an Arrow IPC file or
 * stream (one Float32 column), streaming through smoothl1's own Arrow writer:
 * never more than a read and a record batch in memory. Benchmark data only;
 * the reader's correctness is tested against independently written files.
 */
export async function npyToArrowFile(npyPath: string, arrowPath: string, kind: 'file' | 'stream'): Promise<void> {
  const fd = openSync(npyPath, 'r');
  try {
    const head = new Uint8Array(4096);
    readSync(fd, head, 0, head.length, 0);
    const { header, dataOffset } = parseNpyHeader(npyPath, head);
    if (header.dtype !== 'float32' || header.byteOrder !== 'little' || header.shape.length !== 1) {
      throw new Error(`${npyPath}: expected a little-endian float32 vector`);
    }
    const writer = await openArrowWriter(await openAtomicFile(arrowPath), kind, 'float32', header.shape);
    try {
      const total = header.shape[0]! * 4;
      const buffer = new Uint8Array(READ_BYTES);
      for (let done = 0; done < total; ) {
        const n = readSync(fd, buffer, 0, Math.min(READ_BYTES, total - done), dataOffset + done);
        if (n === 0) throw new Error(`${npyPath}: ends early`);
        await writer.write(buffer.subarray(0, n));
        done += n;
      }
      await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
  } finally {
    closeSync(fd);
  }
}
