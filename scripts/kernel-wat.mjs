// The source of smoothl1's WebAssembly SIMD kernel: it writes the kernel's
// WebAssembly text, one function for each combination of input storage,
// loss output and loss formula. scripts/build-wasm.mjs assembles it into
// src/compute/kernel-bytes.ts; src/compute/loss-spec.ts is its executable specification,
// and tests hold the two bit-equal.
//
// Why generated rather than written by hand: V8 in Node 20 neither inlines
// WebAssembly calls (a call per element pair cost 3x) nor hoists
// loop-invariant branches, so every combination gets its own straight-line
// loop with no call and no branch inside.
//
// The summation order, fixed by element index alone:
// - Elements go in runs of 16 (4 groups of 4). Element j of a group feeds lane
//   j (lanes 0-1 in $s0/$c0, 2-3 in $s1/$c1: two accumulators hide the
//   latency of the sum's dependency chain).
// - Within a run, each lane adds its 4 losses left to right in plain float64
//   (losses are >= 0, so that partial is within 3 ulp of exact), then adds the
//   partial to its running sum with Dekker's Fast2Sum, taking the larger of
//   the two first: t = s + p; c += min(s, p) - (t - max(s, p)). That is the
//   exact rounding error of the addition, as TwoSum gives it, in 5 operations
//   instead of 7.
// - f64x2.pmin/pmax compile to one instruction each; f64x2.min/max, which
//   order -0 and +0 and propagate NaN, to about 7.

/** How an input is stored: bytes per group of 4 elements, and how a group is widened to two f64x2. */
const INPUTS = {
  f64: { groupBytes: 32 },
  f32: { groupBytes: 16 },
  f16: { groupBytes: 8 },
};
const OUTPUTS = { none: 0, f32: 16, f64: 32 };
const LOSSES = ['huber', 'smoothl1'];

const GROUPS_PER_RUN = 4;

/**
 * A group of 4 inputs at byte `offset` from `ptr`, widened to float64:
 * sets `lo` (elements 0-1) and `hi` (elements 2-3).
 */
function loadGroup(kind, ptr, offset, lo, hi) {
  if (kind === 'f64') {
    return `(local.set ${lo} (v128.load offset=${offset} (local.get ${ptr})))
      (local.set ${hi} (v128.load offset=${offset + 16} (local.get ${ptr})))`;
  }
  if (kind === 'f32') {
    return `(local.set ${lo} (f64x2.promote_low_f32x4 (v128.load64_zero offset=${offset} (local.get ${ptr}))))
      (local.set ${hi} (f64x2.promote_low_f32x4 (v128.load64_zero offset=${offset + 8} (local.get ${ptr}))))`;
  }
  // float16, 4 at a time: sign-extended to 32 bits, so bit 31 is the sign;
  // shifting left 13 puts exponent and mantissa where a float32 keeps them,
  // and the mask keeps them and the sign. Multiplying by 2^112 (the
  // difference of the exponent biases) then gives the exact value, half
  // subnormals included. Only for finite halves: an infinity or NaN would
  // come out as a finite 2^16 or more. The caller checks each slice with
  // halfMax and widens one that holds any to float64 instead; fixing them up
  // here cost 4 more operations per 4 halves, a quarter of the loop.
  return `(local.set $f32 (f32x4.mul
        (v128.and
          (i32x4.shl (v128.load16x4_s offset=${offset} (local.get ${ptr})) (i32.const 13))
          (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))
        (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112)))
      (local.set ${lo} (f64x2.promote_low_f32x4 (local.get $f32)))
      (local.set ${hi} (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $f32) (local.get $f32))))`;
}

/** The loss of the pairs in `xa` and `xb`, as an f64x2 expression. */
function loss(kind, xa, xb) {
  const ad = `(local.set $ad (f64x2.abs (f64x2.sub (local.get ${xa}) (local.get ${xb}))))`;
  if (kind === 'huber') {
    // With m = min(|d|, delta), z = m*(|d| - 0.5*m): 0.5*d*d below delta, delta*(|d| - 0.5*delta) above.
    // pmin(|d|, delta) is delta < |d| ? delta : |d|, so a NaN |d| passes through.
    return `(block (result v128) ${ad}
        (local.set $m (f64x2.pmin (local.get $ad) (local.get $delta)))
        (f64x2.mul (local.get $m) (f64x2.sub (local.get $ad) (f64x2.mul (local.get $half) (local.get $m)))))`;
  }
  // PyTorch's smooth_l1_loss: 0.5*d*d/delta below delta, |d| - 0.5*delta above.
  return `(block (result v128) ${ad}
      (v128.bitselect
        (f64x2.div (f64x2.mul (f64x2.mul (local.get $half) (local.get $ad)) (local.get $ad)) (local.get $delta))
        (f64x2.sub (local.get $ad) (local.get $halfDelta))
        (f64x2.lt (local.get $ad) (local.get $delta))))`;
}

function storeLoss(out, offset, x) {
  if (out === 'f32') return `(v128.store64_lane offset=${offset} 0 (local.get $z) (f32x4.demote_f64x2_zero (local.get ${x})))`;
  if (out === 'f64') return `(v128.store offset=${offset * 2} (local.get $z) (local.get ${x}))`;
  return '';
}

/** Adds partial $p into the running sum $s with compensation $c (Fast2Sum, larger first). */
function addPartial(p, s, c) {
  return `(local.set $t (f64x2.add (local.get ${s}) (local.get ${p})))
      (local.set ${c} (f64x2.add (local.get ${c}) (f64x2.sub
        (f64x2.pmin (local.get ${s}) (local.get ${p}))
        (f64x2.sub (local.get $t) (f64x2.pmax (local.get ${s}) (local.get ${p}))))))
      (local.set ${s} (local.get $t))`;
}

function lossFunction(a, b, out, kind) {
  let run = '';
  for (let g = 0; g < GROUPS_PER_RUN; g++) {
    run += `
      ;; group ${g}
      ${loadGroup(a, '$a', g * INPUTS[a].groupBytes, '$a0', '$a1')}
      ${loadGroup(b, '$b', g * INPUTS[b].groupBytes, '$b0', '$b1')}
      (local.set $x0 ${loss(kind, '$a0', '$b0')})
      (local.set $x1 ${loss(kind, '$a1', '$b1')})
      ${storeLoss(out, g * 16, '$x0')}
      ${storeLoss(out, g * 16 + 8, '$x1')}
      ${g === 0 ? '(local.set $p0 (local.get $x0)) (local.set $p1 (local.get $x1))' : '(local.set $p0 (f64x2.add (local.get $p0) (local.get $x0))) (local.set $p1 (f64x2.add (local.get $p1) (local.get $x1)))'}`;
  }
  const advance = (ptr, bytes) => (bytes === 0 ? '' : `(local.set ${ptr} (i32.add (local.get ${ptr}) (i32.const ${bytes * GROUPS_PER_RUN})))`);
  return `
  ;; ${a} input, ${b} label, ${kind} loss, losses stored as ${out}.
  (func (export "${exportName(a, b, out, kind)}")
    (param $a i32) (param $b i32) (param $z i32) (param $runs i32) (param $deltaS f64) (param $state i32)
    (local $delta v128) (local $half v128) (local $halfDelta v128)
    (local $s0 v128) (local $s1 v128) (local $c0 v128) (local $c1 v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $x0 v128) (local $x1 v128) (local $p0 v128) (local $p1 v128)
    (local $ad v128) (local $m v128) (local $t v128) (local $f32 v128)
    (local.set $delta (f64x2.splat (local.get $deltaS)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $halfDelta (f64x2.mul (local.get $half) (local.get $delta)))
    (local.set $s0 (v128.load offset=0 (local.get $state)))
    (local.set $s1 (v128.load offset=16 (local.get $state)))
    (local.set $c0 (v128.load offset=32 (local.get $state)))
    (local.set $c1 (v128.load offset=48 (local.get $state)))
    (block $done
      (loop $run
        (br_if $done (i32.eqz (local.get $runs)))
        ${run}
        ${addPartial('$p0', '$s0', '$c0')}
        ${addPartial('$p1', '$s1', '$c1')}
        ${advance('$a', INPUTS[a].groupBytes)}
        ${advance('$b', INPUTS[b].groupBytes)}
        ${advance('$z', OUTPUTS[out])}
        (local.set $runs (i32.sub (local.get $runs) (i32.const 1)))
        (br $run)))
    (v128.store offset=0 (local.get $state) (local.get $s0))
    (v128.store offset=16 (local.get $state) (local.get $s1))
    (v128.store offset=32 (local.get $state) (local.get $c0))
    (v128.store offset=48 (local.get $state) (local.get $c1)))`;
}

/**
 * The largest magnitude bits (h & 0x7fff) of $n float16 values at $p, 32 at a
 * time into two accumulators, then 8 at a time, then one at a time: 0x7c00
 * or more means an infinity or a NaN among them. Unrolled, it scans three
 * times as fast as 8 at a time (0.027 ns per half in cache).
 */
const HALF_MAX = `
  (func (export "halfMax") (param $p i32) (param $n i32) (result i32)
    (local $acc v128) (local $acc2 v128) (local $mask v128) (local $max i32) (local $h i32)
    (local.set $mask (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))
    (block $done32
      (loop $thirtyTwo
        (br_if $done32 (i32.lt_u (local.get $n) (i32.const 32)))
        (local.set $acc (i16x8.max_u (local.get $acc) (v128.and (v128.load offset=0 (local.get $p)) (local.get $mask))))
        (local.set $acc2 (i16x8.max_u (local.get $acc2) (v128.and (v128.load offset=16 (local.get $p)) (local.get $mask))))
        (local.set $acc (i16x8.max_u (local.get $acc) (v128.and (v128.load offset=32 (local.get $p)) (local.get $mask))))
        (local.set $acc2 (i16x8.max_u (local.get $acc2) (v128.and (v128.load offset=48 (local.get $p)) (local.get $mask))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $n (i32.sub (local.get $n) (i32.const 32)))
        (br $thirtyTwo)))
    (local.set $acc (i16x8.max_u (local.get $acc) (local.get $acc2)))
    (block $done
      (loop $eight
        (br_if $done (i32.lt_u (local.get $n) (i32.const 8)))
        (local.set $acc (i16x8.max_u (local.get $acc) (v128.and (v128.load (local.get $p)) (local.get $mask))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 8)))
        (br $eight)))
    ;; Fold the 8 lanes into lane 0: upper half onto lower, then quarters, then pairs.
    (local.set $acc (i16x8.max_u (local.get $acc) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $acc) (local.get $acc))))
    (local.set $acc (i16x8.max_u (local.get $acc) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $acc) (local.get $acc))))
    (local.set $acc (i16x8.max_u (local.get $acc) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $acc) (local.get $acc))))
    (local.set $max (i16x8.extract_lane_u 0 (local.get $acc)))
    (block $tailDone
      (loop $one
        (br_if $tailDone (i32.eqz (local.get $n)))
        (local.set $h (i32.and (i32.load16_u (local.get $p)) (i32.const 0x7fff)))
        (local.set $max (select (local.get $h) (local.get $max) (i32.gt_u (local.get $h) (local.get $max))))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $one)))
    (local.get $max))`;

/** The export that computes this combination, e.g. "loss_f32_f32_none_huber". */
export const exportName = (a, b, out, kind) => `loss_${a}_${b}_${out}_${kind}`;

export function kernelWat() {
  const functions = [];
  for (const a of Object.keys(INPUTS)) {
    for (const b of Object.keys(INPUTS)) {
      for (const out of Object.keys(OUTPUTS)) {
        for (const kind of LOSSES) functions.push(lossFunction(a, b, out, kind));
      }
    }
  }
  return `;; Generated by scripts/kernel-wat.mjs; see there.
(module
  (memory (export "memory") 1)
${functions.join('\n')}
${HALF_MAX}
)
`;
}
