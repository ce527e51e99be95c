import { dataLongerThan, SmoothL1Error } from '../../tensor/errors.js';
import type { SeekableInput, StreamInput, TensorReader, TensorWriterFormat } from '../../tensor/format.js';
import { elementCount } from '../../tensor/tensor.js';
import { readAtMost } from '../../io/read-at.js';
import { checkDataLength, hasNpyMagic, npyFileSource, npyHeaderEnd, npyStreamSource, parseNpyHeader } from './read.js';
import { openNpyWriter } from './write.js';

/*
 * NumPy's .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html)
 * as a smoothl1 format: a header, then the elements as one byte range.
 */

const hasNoKeys = (file: string, key: string): SmoothL1Error =>
  new SmoothL1Error('key', file, `is an .npy file, which has no columns; '${key}' applies to Arrow input only`);

/** Appends `more` to `bytes`. */
function concat(bytes: Uint8Array, more: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + more.length);
  out.set(bytes);
  out.set(more, bytes.length);
  return out;
}

export const npyReader: TensorReader = {
  sniff: (prefix) => (hasNpyMagic(prefix) ? 'npy' : undefined),

  openFile({ file, handle, size, prefix }: SeekableInput, key) {
    if (key !== undefined) throw hasNoKeys(file, key);
    const end = npyHeaderEnd(file, prefix);
    let header = prefix;
    if (end !== undefined && end > prefix.length && end <= size) {
      header = new Uint8Array(end);
      header = header.subarray(0, readAtMost(file, handle.fd, header, 0));
    }
    const layout = parseNpyHeader(file, header);
    checkDataLength(layout, size);
    return Promise.resolve(npyFileSource(layout, handle));
  },

  async openStream({ file, prefix, stream }: StreamInput, key) {
    if (key !== undefined) throw hasNoKeys(file, key);
    const end = npyHeaderEnd(file, prefix);
    const header = end !== undefined && end > prefix.length ? concat(prefix, await stream.read(end - prefix.length)) : prefix;
    const layout = parseNpyHeader(file, header);
    // An empty tensor has no chunk whose reading would find extra data; look now.
    if (elementCount(layout.header.shape) === 0 && (await stream.read(1)).length > 0) throw dataLongerThan(file, 0);
    return { sized: true, source: npyStreamSource(layout, stream) };
  },
};

export const npyWriter: TensorWriterFormat = {
  extensions: ['.npy'],
  holdsScalars: true,
  storesFortranOrder: true,
  open: openNpyWriter,
};
