/**
 * Where output bytes go. write() resolves once the bytes have been handed
 * to the OS, so the caller may reuse the buffer; commit() makes the output
 * final; abort() undoes whatever can be undone.
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Raised when the reader of stdout has gone away; the CLI ends quietly on it. */
export class BrokenPipe extends Error {}

export function stdoutSink(stream: NodeJS.WriteStream = process.stdout): ByteSink {
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        stream.write(bytes, (err) => {
          if (err === undefined || err === null) resolve();
          else reject('code' in err && err.code === 'EPIPE' ? new BrokenPipe() : err);
        });
      }),
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}
