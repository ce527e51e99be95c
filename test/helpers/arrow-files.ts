import { open } from 'node:fs/promises';
import { openArrowFile } from '../../src/formats/arrow/read.js';
import type { TensorSource } from '../../src/tensor/tensor.js';

/** One IPC message as written since format 0.15: continuation marker, metadata length, metadata, body. */
export const framed = (metadata: Uint8Array, body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(8 + metadata.length + body.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, -1, true);
  view.setInt32(4, metadata.length, true);
  out.set(metadata, 8);
  out.set(body, 8 + metadata.length);
  return out;
};

/** Opens an Arrow file's column (or its only one) as the CLI does, closing the handle if that fails. */
export async function openArrowPath(path: string, column?: string): Promise<TensorSource> {
  const handle = await open(path, 'r');
  try {
    return await openArrowFile(path, handle, { column });
  } catch (err) {
    await handle.close();
    throw err;
  }
}
