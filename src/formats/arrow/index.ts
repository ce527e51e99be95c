import type { ByteStream, TensorReader, TensorWriterFormat } from '../../tensor/format.js';
import type { UnsizedTensorSource } from '../../tensor/tensor.js';
import { arrowFormat } from './magic.js';

/*
 * Arrow IPC files and streams (https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc)
 * as a smoothl1 format: one column of a record batch sequence. Only the
 * magic test loads with this module; the reader and writer, and apache-arrow
 * with them, load on first use, so that .npy runs start without them.
 */

export const arrowReader: TensorReader = {
  sniff(prefix) {
    const format = arrowFormat(prefix);
    return format === undefined ? undefined : format === 'file' ? 'arrow' : 'arrows';
  },

  async openFile({ file, handle }, key) {
    const { openArrowFile } = await import('./read.js');
    return openArrowFile(file, handle, { column: key });
  },

  async openStream({ file, prefix, stream }, key) {
    // The bytes read to tell the format go back in front of the rest.
    const rest = stream.rest();
    async function* whole(): AsyncGenerator<Uint8Array> {
      yield prefix;
      yield* rest;
    }
    const { openArrowStream } = await import('./read.js');
    try {
      return { sized: false, source: closingStream(await openArrowStream(file, whole(), { column: key }), stream) };
    } catch (err) {
      await stream.close();
      throw err;
    }
  },
};

/**
 * `source`, closing `stream` too when it closes. apache-arrow's cancel()
 * only asks our generator to return, which waits for a read still pending
 * on the stream: on a FIFO whose producer is alive, forever, with the
 * descriptor open. Closing the stream itself ends it at once.
 */
function closingStream(source: UnsizedTensorSource, stream: ByteStream): UnsizedTensorSource {
  const both = async (close: () => Promise<void>): Promise<void> => {
    try {
      await close();
    } finally {
      await stream.close();
    }
  };
  return {
    file: source.file,
    dtype: source.dtype,
    byteOrder: source.byteOrder,
    rowShape: source.rowShape,
    async withRows(rows) {
      const sized = await source.withRows(rows);
      return { header: sized.header, chunk: (start, count) => sized.chunk(start, count), close: () => both(() => sized.close()) };
    },
    close: () => both(() => source.close()),
  };
}

/** Arrow output as an IPC file (`kind` 'file') or stream: one column, `loss`, rows along the first axis. */
const arrowWriter = (kind: 'file' | 'stream', extensions: readonly string[]): TensorWriterFormat => ({
  extensions,
  holdsScalars: false,
  storesFortranOrder: false,
  async open(sink, spec) {
    const { openArrowWriter } = await import('./write.js');
    return openArrowWriter(sink, kind, spec.dtype, spec.shape);
  },
});

export const arrowFileWriter = arrowWriter('file', ['.arrow', '.feather']);
export const arrowStreamWriter = arrowWriter('stream', ['.arrows']);
