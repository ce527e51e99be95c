import type { ByteOrder } from './tensor.js';

/** The byte order of this machine's typed arrays. */
export const PLATFORM_BYTE_ORDER: ByteOrder =
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'little' : 'big';

/** True when data stored in `order` must be swapped before typed arrays can read it. */
export const needsSwap = (order: ByteOrder, itemSize: number): boolean =>
  itemSize > 1 && order !== PLATFORM_BYTE_ORDER;

/** Reverses the bytes of each `itemSize`-byte element of `bytes`, in place. */
export function swapInPlace(bytes: Uint8Array, itemSize: number): void {
  const n = bytes.length - (bytes.length % itemSize);
  for (let i = 0; i < n; i += itemSize) {
    for (let lo = i, hi = i + itemSize - 1; lo < hi; lo++, hi--) {
      const t = bytes[lo]!;
      bytes[lo] = bytes[hi]!;
      bytes[hi] = t;
    }
  }
}
