import { compensated } from './loss-spec.js';

export type Reduction = 'none' | 'mean' | 'sum';

/**
 * Folds block sums in block-index order with the same compensated addition
 * as the kernel. The caller must add blocks in order; that, not the thread
 * that computed them, fixes the result.
 */
export class BlockSumFolder {
  #s = 0;
  #c = 0;

  add(sums: Float64Array): void {
    let s = this.#s;
    let c = this.#c;
    for (let i = 0; i < sums.length; i++) {
      const x = sums[i]!;
      const t = s + x;
      const bp = t - s;
      c += s - (t - bp) + (x - bp);
      s = t;
    }
    this.#s = s;
    this.#c = c;
  }

  total(): number {
    return compensated(this.#s, this.#c);
  }
}

/**
 * The reduced loss in float64 before rounding: mean is sum/n, so an empty
 * tensor gives NaN for mean and 0 for sum (conformance README).
 */
export function reduceSum(reduction: 'mean' | 'sum', sum: number, count: number): number {
  return reduction === 'sum' ? sum : sum / count;
}
