import type { TensorReader, TensorWriterFormat } from '../../tensor/format.js';
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
    return { sized: false, source: await openArrowStream(file, whole(), { column: key }) };
  },
};

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
