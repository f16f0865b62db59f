;; matpac-ts native CPU kernels for the transcendental and row-wise primitives: 128-bit SIMD
;; WebAssembly, four float32 lanes at a time.
;;
;; Assembled ahead of time by scripts/build-wasm.ts with the `wabt` package into rows.wasm (feature: simd).
;; The JS side copies operands into this module's own memory, calls one function, and copies
;; the result out. Every function works on whole vectors: the JS side pads each row (or the
;; whole array) to a multiple of 4 floats — with -inf for softmax (exp(-inf) = 0 adds nothing)
;; and 0 elsewhere — so there are no scalar tails here. All addresses are in bytes.
;;
;;   exp(src, dst, nvec)                    dst = exp(src)
;;   gelu(src, dst, nvec)                   dst = x Φ(x)
;;   gelu_grad(src, dst, nvec)              dst = Φ(x) + x φ(x)
;;   softmax_rows(src, dst, rows, vpr)      each row of vpr vectors: exp(x - max) / Σ exp(x - max)
;;   layer_norm_rows(src, dst, rows, vpr, d, eps, gamma, beta)
;;                                          x̂ γ + β, x̂ = (x - μ) s,  s = 1/sqrt(σ² + eps) over the d
;;                                          real entries of each row (pads are 0); γ, β one padded row each
;;   layer_norm_vjp_rows(x, g, dst, rows, vpr, d, eps)
;;                                          s (g - mean(g) - x̂ mean(g x̂))
;;
;; exp: Cephes expf. n = round(x log2 e), r = x - n ln 2 (ln 2 split in two, so r is exact),
;; exp(r) = 1 + r + r² P(r) with a degree-5 P on |r| <= ln2/2, then scale by 2^n by adding n to
;; the exponent bits. Relative error about 2 ulp over the float32 range; x < ln(FLT_MIN) gives 0,
;; x > ln(FLT_MAX) gives +inf, NaN stays NaN (f32x4.min/max propagate NaN).
;;
;; Φ(x) = (1 + erf(x/√2)) / 2 with Eigen's float32 rational erf (also XLA's and TVM's):
;; erf(z) = z α(z²) / β(z²) on |z| <= 4 (α degree 6, β degree 4 in z²), ±1 beyond, a few ulp of
;; erf. Like PyTorch's float32 GELU, 1 + erf cancels in the far left tail, so gelu and geluGrad
;; are accurate to about 1e-7·(1 + |x|) absolutely there rather than relatively; gelu(x) for
;; x < -5.7 is 0 (its true magnitude is below 6e-8). The plain-JS fallback (src/math.ts's erf32)
;; keeps relative accuracy in that tail.
;;
;; Sums over a row (softmax's normaliser, LayerNorm's moments) accumulate in float64 (two f64x2
;; lanes: the low and high halves of each f32x4 added first), as the plain-JS kernels did.
(module
  (import "env" "memory" (memory 1 65536))

  ;; ------------------------------------------------------------------------
  ;; exp over a range: dst = exp(src - shift) for nbytes/16 vectors, returning Σ dst in float64.
  ;; The one exp body of the module, written inside its loop: V8 does not inline wasm calls, and
  ;; a call per vector cost about a third of softmax's time.
  ;; ------------------------------------------------------------------------
  (func $exp_shift (param $src i32) (param $dst i32) (param $nbytes i32) (param $shift v128) (result f64)
    (local $i i32) (local $x v128) (local $xc v128) (local $t v128) (local $n v128) (local $r v128) (local $p v128)
    (local $y v128) (local $acc v128)
    (local.set $acc (v128.const f64x2 0 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $nbytes)))
      (local.set $x (f32x4.sub (v128.load (i32.add (local.get $src) (local.get $i))) (local.get $shift)))
      ;; pmax/pmin with x first keep a NaN x (only the constant operand is ever returned for
      ;; ordered comparisons), and compile to one instruction each, unlike f32x4.min/max
      (local.set $xc
        (f32x4.pmin (f32x4.pmax (local.get $x) (f32x4.splat (f32.const -87.33654))) (f32x4.splat (f32.const 88.72283))))
      ;; n = round(x log2 e): adding 1.5·2^23 rounds to an integer, whose bits then hold n
      (local.set $t (f32x4.add (f32x4.mul (local.get $xc) (f32x4.splat (f32.const 1.44269504088896341)))
        (f32x4.splat (f32.const 12582912))))
      (local.set $n (f32x4.sub (local.get $t) (f32x4.splat (f32.const 12582912))))
      (local.set $r (f32x4.sub (local.get $xc) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375)))))
      (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $p (f32x4.splat (f32.const 1.9875691500e-4)))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $y
        (f32x4.add
          (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
          (f32x4.splat (f32.const 1))))
      ;; y * 2^n: add n (the low bits of t) to the exponent field
      (local.set $y (i32x4.add (local.get $y)
        (i32x4.shl (i32x4.sub (local.get $t) (v128.const i32x4 0x4B400000 0x4B400000 0x4B400000 0x4B400000)) (i32.const 23))))
      ;; underflow to 0 (a NaN x compares false and stays NaN), overflow to +inf
      (local.set $y (v128.andnot (local.get $y) (f32x4.lt (local.get $x) (f32x4.splat (f32.const -87.33654)))))
      (local.set $y (v128.bitselect (v128.const f32x4 inf inf inf inf) (local.get $y)
        (f32x4.gt (local.get $x) (f32x4.splat (f32.const 88.72283)))))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $y))
      (local.set $acc (f64x2.add (local.get $acc)
        (f64x2.add (f64x2.promote_low_f32x4 (local.get $y))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc)))
  )

  ;; ------------------------------------------------------------------------
  ;; Φ(x) = (1 + erf(x/√2)) / 2 of four lanes
  ;; ------------------------------------------------------------------------
  (func $phi4 (param $x v128) (result v128)
    (local $z v128) (local $z2 v128) (local $p v128) (local $q v128)
    ;; erf(z) is ±1 in float32 beyond |z| = 4 (pmax/pmin with z first keep a NaN)
    (local.set $z (f32x4.pmin (f32x4.pmax (f32x4.mul (local.get $x) (f32x4.splat (f32.const 0.70710678118654752)))
      (f32x4.splat (f32.const -4))) (f32x4.splat (f32.const 4))))
    (local.set $z2 (f32x4.mul (local.get $z) (local.get $z)))
    (local.set $p (f32x4.splat (f32.const -2.72614225801306e-10)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const 2.77068142495902e-08))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const -2.10102402082508e-06))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const -5.69250639462346e-05))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const -7.34990630326855e-04))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const -2.95459980854025e-03))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (f32x4.splat (f32.const -1.60960333262415e-02))))
    (local.set $q (f32x4.splat (f32.const -1.45660718464996e-05)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (f32x4.splat (f32.const -2.13374055278905e-04))))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (f32x4.splat (f32.const -1.68282697438203e-03))))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (f32x4.splat (f32.const -7.37332916720468e-03))))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (f32x4.splat (f32.const -1.42647390514189e-02))))
    ;; erf = z p / q, kept inside [-1, 1]; Φ = 1/2 + erf/2
    (f32x4.add (f32x4.splat (f32.const 0.5))
      (f32x4.mul (f32x4.splat (f32.const 0.5))
        (f32x4.pmin (f32x4.pmax (f32x4.div (f32x4.mul (local.get $z) (local.get $p)) (local.get $q))
          (f32x4.splat (f32.const -1))) (f32x4.splat (f32.const 1)))))
  )

  (func (export "exp") (param $src i32) (param $dst i32) (param $nvec i32)
    (drop (call $exp_shift (local.get $src) (local.get $dst) (i32.shl (local.get $nvec) (i32.const 4))
      (v128.const f32x4 0 0 0 0)))
  )

  (func (export "gelu") (param $src i32) (param $dst i32) (param $nvec i32)
    (local $i i32) (local $o i32) (local $x v128)
    (local.set $o (i32.shl (local.get $nvec) (i32.const 4)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $o)))
        (local.set $x (v128.load (i32.add (local.get $src) (local.get $i))))
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (f32x4.mul (local.get $x) (call $phi4 (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
  )

  ;; Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π); in chunks of 4 KiB that stay in L1: -x²/2 into
  ;; dst, its exp in place ($exp_shift), then Φ(x) + x/√(2π) · dst
  (func (export "gelu_grad") (param $src i32) (param $dst i32) (param $nvec i32)
    (local $o i32) (local $c i32) (local $len i32) (local $i i32) (local $x v128)
    (local.set $o (i32.shl (local.get $nvec) (i32.const 4)))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $c) (local.get $o)))
        (local.set $len (select (i32.const 4096) (i32.sub (local.get $o) (local.get $c))
          (i32.lt_u (i32.const 4096) (i32.sub (local.get $o) (local.get $c)))))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $len)))
          (local.set $x (v128.load (i32.add (local.get $src) (i32.add (local.get $c) (local.get $i)))))
          (v128.store (i32.add (local.get $dst) (i32.add (local.get $c) (local.get $i)))
            (f32x4.mul (f32x4.mul (local.get $x) (local.get $x)) (f32x4.splat (f32.const -0.5))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (drop (call $exp_shift (i32.add (local.get $dst) (local.get $c)) (i32.add (local.get $dst) (local.get $c))
          (local.get $len) (v128.const f32x4 0 0 0 0)))
        (local.set $i (i32.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $i) (local.get $len)))
          (local.set $x (v128.load (i32.add (local.get $src) (i32.add (local.get $c) (local.get $i)))))
          (v128.store (i32.add (local.get $dst) (i32.add (local.get $c) (local.get $i)))
            (f32x4.add
              (call $phi4 (local.get $x))
              (f32x4.mul
                (f32x4.mul (local.get $x) (f32x4.splat (f32.const 0.39894228040143268)))
                (v128.load (i32.add (local.get $dst) (i32.add (local.get $c) (local.get $i)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l2)))
        (local.set $c (i32.add (local.get $c) (local.get $len)))
        (br $chunk)))
  )

  (func (export "softmax_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $vpr i32)
    (local $row i32) (local $rb i32) (local $i i32) (local $m v128) (local $z f64) (local $inv v128) (local $mx f32)
    (local.set $rb (i32.shl (local.get $vpr) (i32.const 4)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; max
        (local.set $m (v128.load (local.get $src)))
        (local.set $i (i32.const 16))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $rb)))
          (local.set $m (f32x4.max (local.get $m) (v128.load (i32.add (local.get $src) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $mx (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
                                (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
        (local.set $m (f32x4.splat (local.get $mx)))
        ;; exp(x - max) and its sum (float64)
        (local.set $z (call $exp_shift (local.get $src) (local.get $dst) (local.get $rb) (local.get $m)))
        (local.set $inv (f32x4.splat (f32.demote_f64 (f64.div (f64.const 1) (local.get $z)))))
        (local.set $i (i32.const 0))
        (block $d3 (loop $l3
          (br_if $d3 (i32.ge_u (local.get $i) (local.get $rb)))
          (v128.store (i32.add (local.get $dst) (local.get $i))
            (f32x4.mul (v128.load (i32.add (local.get $dst) (local.get $i))) (local.get $inv)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l3)))
        (local.set $src (i32.add (local.get $src) (local.get $rb)))
        (local.set $dst (i32.add (local.get $dst) (local.get $rb)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next_row)))
  )

  ;; mean μ and scale s = 1/sqrt(σ² + eps) of the row at $x (vpr vectors, d real entries, pads 0),
  ;; returned as (μ, s) in float64. One pass over the row: Σ (x - k) and Σ (x - k)² in float64,
  ;; shifted by the row's first entry k, so σ² = mean((x - k)²) - mean(x - k)² does not cancel
  ;; when the mean is large compared with the spread (each pad adds -k and k², taken back out).
  (func $moments (param $x i32) (param $rb i32) (param $d i32) (param $eps f64) (result f64 f64)
    (local $i i32) (local $v v128) (local $k f64) (local $kv v128) (local $lo v128) (local $hi v128)
    (local $s1 v128) (local $s2 v128) (local $pads f64) (local $m f64) (local $var f64)
    (local.set $k (f64.promote_f32 (f32.load (local.get $x))))
    (local.set $kv (f64x2.splat (local.get $k)))
    (local.set $s1 (v128.const f64x2 0 0))
    (local.set $s2 (v128.const f64x2 0 0))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $i) (local.get $rb)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (local.set $lo (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $kv)))
      (local.set $hi (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $kv)))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.add (local.get $lo) (local.get $hi))))
      (local.set $s2 (f64x2.add (local.get $s2)
        (f64x2.add (f64x2.mul (local.get $lo) (local.get $lo)) (f64x2.mul (local.get $hi) (local.get $hi)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l1)))
    (local.set $pads (f64.convert_i32_u (i32.sub (i32.shr_u (local.get $rb) (i32.const 2)) (local.get $d))))
    (local.set $m (f64.div
      (f64.add (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))
        (f64.mul (local.get $pads) (local.get $k)))
      (f64.convert_i32_u (local.get $d))))
    (local.set $var (f64.sub
      (f64.div
        (f64.sub (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))
          (f64.mul (local.get $pads) (f64.mul (local.get $k) (local.get $k))))
        (f64.convert_i32_u (local.get $d)))
      (f64.mul (local.get $m) (local.get $m))))
    (f64.add (local.get $k) (local.get $m))
    (f64.div (f64.const 1) (f64.sqrt (f64.add (f64.max (local.get $var) (f64.const 0)) (local.get $eps))))
  )

  ;; x̂ γ + β: $gamma and $beta each hold vpr vectors (the JS side passes 1 and 0 for the bare x̂)
  (func (export "layer_norm_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $vpr i32) (param $d i32) (param $eps f64)
    (param $gamma i32) (param $beta i32)
    (local $row i32) (local $rb i32) (local $i i32) (local $mu f64) (local $s f64) (local $mv v128) (local $ml v128) (local $sv v128)
    (local.set $rb (i32.shl (local.get $vpr) (i32.const 4)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (call $moments (local.get $src) (local.get $rb) (local.get $d) (local.get $eps))
        (local.set $s)
        (local.set $mu)
        ;; μ = μ_hi + μ_lo in two floats: x - μ_hi is exact for x near μ (Sterbenz), so x - μ keeps
        ;; its precision when the row's mean is large compared with its spread
        (local.set $mv (f32x4.splat (f32.demote_f64 (local.get $mu))))
        (local.set $ml (f32x4.splat (f32.demote_f64 (f64.sub (local.get $mu) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $mv)))))))
        (local.set $sv (f32x4.splat (f32.demote_f64 (local.get $s))))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $rb)))
          (v128.store (i32.add (local.get $dst) (local.get $i))
            (f32x4.add
              (f32x4.mul
                (f32x4.mul (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $src) (local.get $i))) (local.get $mv)) (local.get $ml)) (local.get $sv))
                (v128.load (i32.add (local.get $gamma) (local.get $i))))
              (v128.load (i32.add (local.get $beta) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $src (i32.add (local.get $src) (local.get $rb)))
        (local.set $dst (i32.add (local.get $dst) (local.get $rb)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next_row)))
  )

  (func (export "layer_norm_vjp_rows") (param $x i32) (param $g i32) (param $dst i32) (param $rows i32) (param $vpr i32) (param $d i32) (param $eps f64)
    (local $row i32) (local $rb i32) (local $i i32) (local $mu f64) (local $s f64)
    (local $mv v128) (local $ml v128) (local $sv v128) (local $gv v128) (local $xh v128) (local $ag v128) (local $agx v128)
    (local $mg v128) (local $mgx v128)
    (local.set $rb (i32.shl (local.get $vpr) (i32.const 4)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (call $moments (local.get $x) (local.get $rb) (local.get $d) (local.get $eps))
        (local.set $s)
        (local.set $mu)
        ;; μ = μ_hi + μ_lo in two floats: x - μ_hi is exact for x near μ (Sterbenz), so x - μ keeps
        ;; its precision when the row's mean is large compared with its spread
        (local.set $mv (f32x4.splat (f32.demote_f64 (local.get $mu))))
        (local.set $ml (f32x4.splat (f32.demote_f64 (f64.sub (local.get $mu) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $mv)))))))
        (local.set $sv (f32x4.splat (f32.demote_f64 (local.get $s))))
        ;; mean(g) and mean(g x̂) (pads: g = 0)
        (local.set $ag (v128.const f64x2 0 0))
        (local.set $agx (v128.const f64x2 0 0))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $rb)))
          (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
          (local.set $xh (f32x4.mul (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mv)) (local.get $ml)) (local.get $sv)))
          (local.set $xh (f32x4.mul (local.get $xh) (local.get $gv)))
          (local.set $ag (f64x2.add (local.get $ag)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $gv))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $gv) (local.get $gv))))))
          (local.set $agx (f64x2.add (local.get $agx)
            (f64x2.add (f64x2.promote_low_f32x4 (local.get $xh))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xh) (local.get $xh))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $mg (f32x4.splat (f32.demote_f64 (f64.div
          (f64.add (f64x2.extract_lane 0 (local.get $ag)) (f64x2.extract_lane 1 (local.get $ag))) (f64.convert_i32_u (local.get $d))))))
        (local.set $mgx (f32x4.splat (f32.demote_f64 (f64.div
          (f64.add (f64x2.extract_lane 0 (local.get $agx)) (f64x2.extract_lane 1 (local.get $agx))) (f64.convert_i32_u (local.get $d))))))
        (local.set $i (i32.const 0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $i) (local.get $rb)))
          (local.set $xh (f32x4.mul (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mv)) (local.get $ml)) (local.get $sv)))
          (v128.store (i32.add (local.get $dst) (local.get $i))
            (f32x4.mul (local.get $sv)
              (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $mg))
                (f32x4.mul (local.get $xh) (local.get $mgx)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l2)))
        (local.set $x (i32.add (local.get $x) (local.get $rb)))
        (local.set $g (i32.add (local.get $g) (local.get $rb)))
        (local.set $dst (i32.add (local.get $dst) (local.get $rb)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next_row)))
  )
)
