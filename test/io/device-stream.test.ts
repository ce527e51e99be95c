import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { openDeviceStream } from '../../src/io/device-stream.js';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { tempDir } from '../helpers/tmp.js';

const readAll = async (stream: AsyncIterable<unknown>): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
};

// A pipe is polled as stdin is (a net.Socket over the descriptor), not read
// by a blocking call in libuv's thread pool, which would hold the process
// open on Ctrl-C until the producer wrote or closed.
test('a FIFO is read as a polled socket stream, to its end', async (t) => {
  const fifo = join(tempDir(t), 'fifo');
  execFileSync('mkfifo', [fifo]);
  // Both ends in this process: the open for reading then does not wait.
  const writer = openSync(fifo, 'r+');
  const opened = openDeviceStream(fifo);
  const stream = await opened;
  t.true(stream instanceof Socket);
  writeSync(writer, 'hello, ');
  writeSync(writer, 'pipe');
  closeSync(writer);
  t.is((await readAll(stream)).toString(), 'hello, pipe');
});

test('a character device that is not a terminal is read as a file', async (t) => {
  const stream = await openDeviceStream('/dev/null');
  t.false(stream instanceof Socket);
  t.is((await readAll(stream)).length, 0);
});

test('a path that cannot be opened is an io error naming it', async (t) => {
  const err = await t.throwsAsync(openDeviceStream('/nonexistent/fifo'), { instanceOf: SmoothL1Error });
  t.is(err?.code, 'io');
  t.is(err?.file, '/nonexistent/fifo');
});
