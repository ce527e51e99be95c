/**
 * Works through consecutive element ranges [0, chunkElements), … : `acquire`
 * gets each range's inputs, strictly one after another and in range order
 * (so sequential readers such as stdin can serve it); `run` computes on them,
 * with at most `maxInFlight` running at once; `consume` gets the results
 * strictly in range order, whatever order they finish in.
 */
export async function forEachChunkInOrder<I, R>(
  count: number,
  chunkElements: number,
  maxInFlight: number,
  acquire: (first: number, n: number) => Promise<I>,
  run: (inputs: I) => Promise<R>,
  consume: (result: R, first: number, n: number) => Promise<void>,
): Promise<void> {
  const inFlight: { promise: Promise<R>; first: number; n: number }[] = [];
  let next = 0;
  try {
    while (next < count || inFlight.length > 0) {
      while (next < count && inFlight.length < maxInFlight) {
        const n = Math.min(chunkElements, count - next);
        const promise = run(await acquire(next, n));
        // Settled later, in order; until then a failure must not count as unhandled.
        promise.catch(() => undefined);
        inFlight.push({ promise, first: next, n });
        next += n;
      }
      const head = inFlight.shift();
      if (head !== undefined) await consume(await head.promise, head.first, head.n);
    }
  } finally {
    // Let the rest settle so that no buffer is still in use when the caller cleans up.
    await Promise.allSettled(inFlight.map((t) => t.promise));
  }
}
