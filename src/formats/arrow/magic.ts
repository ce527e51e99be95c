/*
 * What tells Arrow IPC data apart, without loading apache-arrow: the magic
 * of a file, the framing of a stream's messages. Kept apart so that opening
 * an .npy costs no Arrow library at all.
 */

export type ArrowFormat = 'file' | 'stream';

/** "ARROW1": an IPC file starts (and ends) with it. */
export const FILE_MAGIC = Uint8Array.from([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]);
/** Since format 0.15 every message starts with this continuation marker, then a 4-byte length. */
export const CONTINUATION = -1;
/** Pre-0.15 ("legacy") messages start with the length alone; no real metadata is that long. */
export const MAX_METADATA_BYTES = 1 << 24;

/** Field metadata keys of extension types, and the canonical tensor extension (CanonicalExtensions.html). */
export const EXTENSION_NAME = 'ARROW:extension:name';
export const EXTENSION_METADATA = 'ARROW:extension:metadata';
export const FIXED_SHAPE_TENSOR = 'arrow.fixed_shape_tensor';

export const startsWith = (bytes: Uint8Array, magic: Uint8Array, at = 0): boolean =>
  bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);

export const int32At = (bytes: Uint8Array, at: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(at, true);

/**
 * Tells an Arrow IPC file from an IPC stream by the first bytes (8 are
 * enough); undefined when they are neither. A legacy (pre-0.15) stream has
 * no marker, only a metadata length, so only a plausible length counts.
 */
export function arrowFormat(prefix: Uint8Array): ArrowFormat | undefined {
  if (startsWith(prefix, FILE_MAGIC)) return 'file';
  if (prefix.length < 8) return undefined;
  const first = int32At(prefix, 0);
  const length = first === CONTINUATION ? int32At(prefix, 4) : first;
  // A flatbuffer is at least a root offset and a vtable; its root offset lies inside it.
  const legacyRoot = int32At(prefix, 4);
  const plausible = length >= 8 && length <= MAX_METADATA_BYTES;
  if (first === CONTINUATION) return plausible || length === 0 ? 'stream' : undefined;
  return plausible && legacyRoot > 0 && legacyRoot < length ? 'stream' : undefined;
}
