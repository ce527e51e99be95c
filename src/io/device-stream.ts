import { createReadStream, fstat as fstatCb, open as openCb, closeSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { isatty, ReadStream as TtyReadStream } from 'node:tty';
import { fromSystemError } from '../tensor/errors.js';

const openRaw = (path: string): Promise<number> =>
  new Promise((resolve, reject) => openCb(path, 'r', (err, fd) => (err === null ? resolve(fd) : reject(err))));

const fstatRaw = (fd: number): Promise<Stats> =>
  new Promise((resolve, reject) => fstatCb(fd, (err, st) => (err === null ? resolve(st) : reject(err))));

/**
 * A FIFO, socket or character device (`<(command)`, a named pipe, a tty)
 * opened for reading as a stream. Pipes and sockets are read as libuv reads
 * stdin, polled without blocking: a read that blocks in libuv's thread pool
 * (what fs streams do) would keep the process from exiting on Ctrl-C until
 * the producer writes or closes. Other devices are read as files. Opening a
 * named pipe still waits for its writer to open it. The stream owns the
 * descriptor: destroying it closes it.
 */
export async function openDeviceStream(file: string): Promise<Readable> {
  let fd: number | undefined;
  try {
    fd = await openRaw(file);
    const st = await fstatRaw(fd);
    if (st.isFIFO() || st.isSocket()) return new Socket({ fd, readable: true, writable: false });
    if (isatty(fd)) return new TtyReadStream(fd);
    return createReadStream('', { fd });
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw fromSystemError(file, err);
  }
}
