import { open, type FileHandle } from 'node:fs/promises';
import { fromSystemError, SmoothL1Error } from '../tensor/errors.js';
import type { ByteSink } from '../tensor/format.js';

/** Raised when the reader of our output has gone away (EPIPE); the CLI ends quietly on it. */
export class BrokenPipe extends SmoothL1Error {
  constructor(file: string) {
    super('io', file, 'the reader closed the pipe');
    this.name = 'BrokenPipe';
  }
}

/** Writes to a stream of ours (stdout, stderr), named `name` in errors; a closed reader raises BrokenPipe. */
export function streamSink(stream: NodeJS.WriteStream, name: string): ByteSink {
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        stream.write(bytes, (err) => {
          if (err === undefined || err === null) resolve();
          else reject('code' in err && err.code === 'EPIPE' ? new BrokenPipe(name) : fromSystemError(name, err));
        });
      }),
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}

export const stdoutSink = (): ByteSink => streamSink(process.stdout, '<stdout>');

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
        throw err instanceof Error && 'code' in err && err.code === 'EPIPE' ? new BrokenPipe(target) : fromSystemError(target, err);
      }
    },
    commit: close,
    abort: close,
  };
}
