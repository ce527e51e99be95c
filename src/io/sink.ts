import { open, type FileHandle } from 'node:fs/promises';
import { fromSystemError } from '../tensor/errors.js';

/**
 * Where output bytes go. write() resolves once the bytes have been handed
 * to the OS, so the caller may reuse the buffer; commit() makes the output
 * final; abort() undoes whatever can be undone.
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  /**
   * Set when the sink is a regular file that any thread may also write by
   * position (pwrite) until commit: the descriptor, and how many bytes
   * write() has put at its start so far.
   */
  readonly file?: { readonly fd: number; readonly written: number };
  /** With `file`: makes what is in the file so far durable (fdatasync), while writing goes on. */
  flush?(): Promise<void>;
}

/** Raised when the reader of stdout has gone away; the CLI ends quietly on it. */
export class BrokenPipe extends Error {}

export function stdoutSink(stream: NodeJS.WriteStream = process.stdout): ByteSink {
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        stream.write(bytes, (err) => {
          if (err === undefined || err === null) resolve();
          else reject('code' in err && err.code === 'EPIPE' ? new BrokenPipe() : fromSystemError('<stdout>', err));
        });
      }),
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}

/**
 * Writes straight into an existing target that is not a regular file (a
 * FIFO, /dev/stdout, /dev/null): there is nothing to rename over it, and
 * nothing to undo on failure beyond stopping.
 */
export async function deviceSink(target: string): Promise<ByteSink> {
  let handle: FileHandle;
  try {
    handle = await open(target, 'w');
  } catch (err) {
    throw fromSystemError(target, err);
  }
  const close = (): Promise<void> => handle.close().catch(() => undefined);
  return {
    async write(bytes) {
      try {
        for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
      } catch (err) {
        throw err instanceof Error && 'code' in err && err.code === 'EPIPE' ? new BrokenPipe() : fromSystemError(target, err);
      }
    },
    commit: close,
    abort: close,
  };
}
