import type { Readable } from 'node:stream';
import type { ByteStream } from '../tensor/format.js';

/**
 * Exact-length reads from a stream that cannot seek (stdin): the format
 * readers ask for n bytes and get n, or fewer only at the end of the stream.
 */
export class StreamReader implements ByteStream {
  readonly #chunks: AsyncIterator<unknown>;
  #carry: Uint8Array = new Uint8Array(0);
  #ended = false;

  readonly #stream: Readable;

  constructor(stream: Readable) {
    this.#stream = stream;
    this.#chunks = stream[Symbol.asyncIterator]();
  }

  /** Up to `n` bytes into a fresh buffer of its own (so it can be transferred); fewer only at end of stream. */
  async read(n: number): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#carry.length === 0 && !(await this.#pull())) break;
      const take = Math.min(n - filled, this.#carry.length);
      out.set(this.#carry.subarray(0, take), filled);
      this.#carry = this.#carry.subarray(take);
      filled += take;
    }
    return filled === n ? out : out.subarray(0, filled);
  }

  /**
   * Stops reading and releases the stream, closing its descriptor. The
   * stream is destroyed outright: ending its iterator would wait for a read
   * still pending (on a FIFO, until its producer writes or closes), and
   * whoever reads through rest() may have one pending.
   */
  close(): Promise<void> {
    this.#ended = true;
    this.#chunks.return?.().catch(() => undefined);
    this.#stream.destroy();
    return Promise.resolve();
  }

  /** Everything not yet read, starting with what was read ahead: for a reader that takes a whole stream. */
  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.#carry.length > 0) yield this.#carry;
    this.#carry = new Uint8Array(0);
    while (await this.#pull()) {
      yield this.#carry;
      this.#carry = new Uint8Array(0);
    }
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done === true) {
      this.#ended = true;
      return false;
    }
    const value: unknown = next.value;
    this.#carry = value instanceof Uint8Array ? value : new TextEncoder().encode(String(value));
    return true;
  }
}
