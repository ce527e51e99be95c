;; smoothl1's WebAssembly SIMD kernel: element losses and compensated sums.
;;
;; Elements are taken in groups of 4. Element j of a group feeds lane j of the
;; accumulator state (lanes 0-1 in $s0/$c0, 2-3 in $s1/$c1), so the summation
;; order is fixed by element index alone. Two accumulators hide the latency of
;; the sum's dependency chain. src/kernel.ts defines the same arithmetic in
;; JavaScript; tests hold the two bit-equal.
;;
;; Every sum step is Knuth's TwoSum: t = s + x; bp = t - s;
;; c += (s - (t - bp)) + (x - bp); s = t. It yields the exact rounding error
;; of each addition, like Neumaier's sum but without a data-dependent branch.
;;
;; Inputs are read as they are stored (float64, float32 or float16 bits) and
;; widened to float64 in registers, so no widened copy is ever written out.
;; The per-pair code is written out twice rather than called: V8 in Node 20
;; does not inline WebAssembly calls, and a call per pair costs 3x.
;; (Assembled by scripts/build-wasm.mjs into src/wasm/kernel-bytes.ts.)
(module
  (memory (export "memory") 1)

  ;; Adds $groups groups of 4 paired elements into the lane state at $state
  ;; (4 sums then 4 compensations, float64), writing the losses to $z as
  ;; float32 ($zKind 1) or float64 ($zKind 2), or nowhere ($zKind 0).
  ;; $aKind/$bKind: how that input is stored: 0 float64, 1 float32, 2 float16.
  (func (export "lossGroups")
    (param $a i32) (param $aKind i32) (param $b i32) (param $bKind i32)
    (param $groups i32) (param $deltaS f64) (param $huber i32)
    (param $z i32) (param $zKind i32) (param $state i32)
    (local $delta v128) (local $half v128) (local $halfDelta v128)
    (local $aStep i32) (local $bStep i32) (local $zStep i32)
    (local $s0 v128) (local $s1 v128) (local $c0 v128) (local $c1 v128)
    (local $xa v128) (local $xb v128) (local $h v128) (local $em v128)
    (local $d v128) (local $ad v128) (local $m v128)
    (local $x v128) (local $t v128) (local $bp v128)
    (local.set $delta (f64x2.splat (local.get $deltaS)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $halfDelta (f64x2.mul (local.get $half) (local.get $delta)))
    ;; Bytes per group of 4 elements: 32 for float64, 16 for float32, 8 for float16.
    (local.set $aStep (i32.shr_u (i32.const 32) (local.get $aKind)))
    (local.set $bStep (i32.shr_u (i32.const 32) (local.get $bKind)))
    (local.set $zStep (select (i32.const 16) (i32.const 32) (i32.eq (local.get $zKind) (i32.const 1))))
    (local.set $s0 (v128.load offset=0 (local.get $state)))
    (local.set $s1 (v128.load offset=16 (local.get $state)))
    (local.set $c0 (v128.load offset=32 (local.get $state)))
    (local.set $c1 (v128.load offset=48 (local.get $state)))
    (block $done
      (loop $group
        (br_if $done (i32.eqz (local.get $groups)))
        ;; Elements 0 and 1 of the group, into accumulator 0.
        (local.set $xa (if (result v128) (i32.eq (local.get $aKind) (i32.const 1))
          (then (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 (local.get $a))))
          (else (if (result v128) (i32.eqz (local.get $aKind))
            (then (v128.load offset=0 (local.get $a)))
            ;; float16: exponent and mantissa moved to a float32's bit positions and
            ;; scaled by 2^112 (the difference of the biases), which also makes half
            ;; subnormals right; infinities and NaNs get an all-ones exponent.
            (else
              (local.set $h (i32x4.extend_low_i16x8_u (v128.load32_zero offset=0 (local.get $a))))
              (local.set $em (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)))
              (f64x2.promote_low_f32x4 (v128.or
                (v128.bitselect
                  (v128.or (local.get $em) (i32x4.splat (i32.const 0x7f800000)))
                  (f32x4.mul (local.get $em) (f32x4.splat (f32.const 0x1p112)))
                  (i32x4.ge_u (local.get $em) (i32x4.splat (i32.const 0x0f800000))))
                (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x8000))) (i32.const 16)))))))))
        (local.set $xb (if (result v128) (i32.eq (local.get $bKind) (i32.const 1))
          (then (f64x2.promote_low_f32x4 (v128.load64_zero offset=0 (local.get $b))))
          (else (if (result v128) (i32.eqz (local.get $bKind))
            (then (v128.load offset=0 (local.get $b)))
            ;; float16: exponent and mantissa moved to a float32's bit positions and
            ;; scaled by 2^112 (the difference of the biases), which also makes half
            ;; subnormals right; infinities and NaNs get an all-ones exponent.
            (else
              (local.set $h (i32x4.extend_low_i16x8_u (v128.load32_zero offset=0 (local.get $b))))
              (local.set $em (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)))
              (f64x2.promote_low_f32x4 (v128.or
                (v128.bitselect
                  (v128.or (local.get $em) (i32x4.splat (i32.const 0x7f800000)))
                  (f32x4.mul (local.get $em) (f32x4.splat (f32.const 0x1p112)))
                  (i32x4.ge_u (local.get $em) (i32x4.splat (i32.const 0x0f800000))))
                (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x8000))) (i32.const 16)))))))))
        (local.set $d (f64x2.sub (local.get $xa) (local.get $xb)))
        (local.set $ad (f64x2.abs (local.get $d)))
        (local.set $x (if (result v128) (local.get $huber)
          ;; Huber: with m = min(|d|, delta), z = m*(|d| - 0.5*m).
          (then
            (local.set $m (f64x2.min (local.get $ad) (local.get $delta)))
            (f64x2.mul (local.get $m) (f64x2.sub (local.get $ad) (f64x2.mul (local.get $half) (local.get $m)))))
          ;; PyTorch's smooth_l1_loss: 0.5*d*d/delta below delta, |d| - 0.5*delta above.
          (else
            (v128.bitselect
              (f64x2.div (f64x2.mul (f64x2.mul (local.get $half) (local.get $d)) (local.get $d)) (local.get $delta))
              (f64x2.sub (local.get $ad) (local.get $halfDelta))
              (f64x2.lt (local.get $ad) (local.get $delta))))))
        (if (i32.eq (local.get $zKind) (i32.const 1))
          (then (v128.store64_lane offset=0 0 (local.get $z) (f32x4.demote_f64x2_zero (local.get $x)))))
        (if (i32.eq (local.get $zKind) (i32.const 2))
          (then (v128.store offset=0 (local.get $z) (local.get $x))))
        (local.set $t (f64x2.add (local.get $s0) (local.get $x)))
        (local.set $bp (f64x2.sub (local.get $t) (local.get $s0)))
        (local.set $c0 (f64x2.add (local.get $c0)
          (f64x2.add (f64x2.sub (local.get $s0) (f64x2.sub (local.get $t) (local.get $bp)))
                     (f64x2.sub (local.get $x) (local.get $bp)))))
        (local.set $s0 (local.get $t))
        ;; Elements 2 and 3 of the group, into accumulator 1.
        (local.set $xa (if (result v128) (i32.eq (local.get $aKind) (i32.const 1))
          (then (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $a))))
          (else (if (result v128) (i32.eqz (local.get $aKind))
            (then (v128.load offset=16 (local.get $a)))
            ;; float16: exponent and mantissa moved to a float32's bit positions and
            ;; scaled by 2^112 (the difference of the biases), which also makes half
            ;; subnormals right; infinities and NaNs get an all-ones exponent.
            (else
              (local.set $h (i32x4.extend_low_i16x8_u (v128.load32_zero offset=4 (local.get $a))))
              (local.set $em (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)))
              (f64x2.promote_low_f32x4 (v128.or
                (v128.bitselect
                  (v128.or (local.get $em) (i32x4.splat (i32.const 0x7f800000)))
                  (f32x4.mul (local.get $em) (f32x4.splat (f32.const 0x1p112)))
                  (i32x4.ge_u (local.get $em) (i32x4.splat (i32.const 0x0f800000))))
                (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x8000))) (i32.const 16)))))))))
        (local.set $xb (if (result v128) (i32.eq (local.get $bKind) (i32.const 1))
          (then (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $b))))
          (else (if (result v128) (i32.eqz (local.get $bKind))
            (then (v128.load offset=16 (local.get $b)))
            ;; float16: exponent and mantissa moved to a float32's bit positions and
            ;; scaled by 2^112 (the difference of the biases), which also makes half
            ;; subnormals right; infinities and NaNs get an all-ones exponent.
            (else
              (local.set $h (i32x4.extend_low_i16x8_u (v128.load32_zero offset=4 (local.get $b))))
              (local.set $em (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)))
              (f64x2.promote_low_f32x4 (v128.or
                (v128.bitselect
                  (v128.or (local.get $em) (i32x4.splat (i32.const 0x7f800000)))
                  (f32x4.mul (local.get $em) (f32x4.splat (f32.const 0x1p112)))
                  (i32x4.ge_u (local.get $em) (i32x4.splat (i32.const 0x0f800000))))
                (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x8000))) (i32.const 16)))))))))
        (local.set $d (f64x2.sub (local.get $xa) (local.get $xb)))
        (local.set $ad (f64x2.abs (local.get $d)))
        (local.set $x (if (result v128) (local.get $huber)
          ;; Huber: with m = min(|d|, delta), z = m*(|d| - 0.5*m).
          (then
            (local.set $m (f64x2.min (local.get $ad) (local.get $delta)))
            (f64x2.mul (local.get $m) (f64x2.sub (local.get $ad) (f64x2.mul (local.get $half) (local.get $m)))))
          ;; PyTorch's smooth_l1_loss: 0.5*d*d/delta below delta, |d| - 0.5*delta above.
          (else
            (v128.bitselect
              (f64x2.div (f64x2.mul (f64x2.mul (local.get $half) (local.get $d)) (local.get $d)) (local.get $delta))
              (f64x2.sub (local.get $ad) (local.get $halfDelta))
              (f64x2.lt (local.get $ad) (local.get $delta))))))
        (if (i32.eq (local.get $zKind) (i32.const 1))
          (then (v128.store64_lane offset=8 0 (local.get $z) (f32x4.demote_f64x2_zero (local.get $x)))))
        (if (i32.eq (local.get $zKind) (i32.const 2))
          (then (v128.store offset=16 (local.get $z) (local.get $x))))
        (local.set $t (f64x2.add (local.get $s1) (local.get $x)))
        (local.set $bp (f64x2.sub (local.get $t) (local.get $s1)))
        (local.set $c1 (f64x2.add (local.get $c1)
          (f64x2.add (f64x2.sub (local.get $s1) (f64x2.sub (local.get $t) (local.get $bp)))
                     (f64x2.sub (local.get $x) (local.get $bp)))))
        (local.set $s1 (local.get $t))
        (local.set $a (i32.add (local.get $a) (local.get $aStep)))
        (local.set $b (i32.add (local.get $b) (local.get $bStep)))
        (local.set $z (i32.add (local.get $z) (local.get $zStep)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $group)))
    (v128.store offset=0 (local.get $state) (local.get $s0))
    (v128.store offset=16 (local.get $state) (local.get $s1))
    (v128.store offset=32 (local.get $state) (local.get $c0))
    (v128.store offset=48 (local.get $state) (local.get $c1)))
)
