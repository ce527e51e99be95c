import { promises as fsp, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromSystemError } from '../tensor/errors.js';
import type { ByteSink } from '../tensor/format.js';

/** Temporary files not yet renamed; removed on Ctrl-C too (see removeTemporaries). */
const temporaries = new Set<string>();

/** Removes every temporary file still open. Synchronous, so it can run in a signal handler just before exit. */
export function removeTemporaries(): void {
  for (const path of temporaries) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone: nothing to undo.
    }
  }
  temporaries.clear();
}

const temporaryPath = (target: string): string =>
  join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.smoothl1-tmp`);

/** What a replacement must keep of the file it replaces. */
export interface Replaced {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Gives the temporary file the owner and mode of the file it will replace,
 * as `cp` and editors do: a rename must not widen a 0600 file to 0644. The
 * owner first, since chown clears set-user-ID bits; an owner we may not set
 * (not root) stays ours, as for any file we create.
 */
async function keepOwnerAndMode(handle: fsp.FileHandle, replaced: Replaced): Promise<void> {
  if (replaced.uid !== process.getuid?.() || replaced.gid !== process.getgid?.()) {
    await handle.chown(replaced.uid, replaced.gid).catch(() => undefined);
  }
  await handle.chmod(replaced.mode & 0o7777);
}

/**
 * Output that appears at `target` whole or not at all: bytes go to a
 * temporary file beside it (same directory, so rename is atomic), which is
 * synced and renamed over the target on commit and removed on abort. An
 * existing file at the target is untouched until the rename, and its owner
 * and mode carry over (`replaced`); a new file gets the mode the umask
 * leaves of 0666, as any program's new file does.
 */
export async function openAtomicFile(target: string, replaced?: Replaced): Promise<ByteSink> {
  const temp = temporaryPath(target);
  let handle: fsp.FileHandle;
  try {
    // Until its mode is set, a replacement is readable by its owner alone.
    handle = await fsp.open(temp, 'wx', replaced === undefined ? 0o666 : 0o600);
  } catch (err) {
    throw fromSystemError(target, err);
  }
  temporaries.add(temp);
  if (replaced !== undefined) {
    try {
      await keepOwnerAndMode(handle, replaced);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.unlink(temp).catch(() => undefined);
      temporaries.delete(temp);
      throw fromSystemError(target, err);
    }
  }
  let closed = false;
  let written = 0;
  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await handle.close();
    }
  };
  return {
    get file() {
      return { fd: handle.fd, written };
    },
    async flush() {
      try {
        await handle.datasync();
      } catch (err) {
        throw fromSystemError(target, err);
      }
    },
    async write(bytes) {
      try {
        for (let done = 0; done < bytes.length; ) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
          done += bytesWritten;
          written += bytesWritten;
        }
      } catch (err) {
        throw fromSystemError(target, err);
      }
    },
    async commit() {
      try {
        await handle.sync();
        await close();
        await fsp.rename(temp, target);
        temporaries.delete(temp);
      } catch (err) {
        throw fromSystemError(target, err);
      }
    },
    async abort() {
      await close().catch(() => undefined);
      await fsp.unlink(temp).catch(() => undefined);
      temporaries.delete(temp);
    },
  };
}
