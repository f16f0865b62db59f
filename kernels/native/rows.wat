;; matpac-ts native CPU kernels for the transcendental and row-wise primitives: 128-bit SIMD
;; WebAssembly, four float32 lanes at a time.
;;
;; Assembled ahead of time by scripts/build-wasm.ts with the `wabt` package into rows.wasm (feature: simd).
;; The JS side copies operands into this module's own memory, calls one function, and copies
;; the result out. Every function works on whole vectors, the exp, gelu and softmax loops on
;; groups of four vectors (16 floats): each row (or the whole array) is padded to a multiple of 4 floats,
;; or 16 for those — with -inf for softmax (exp(-inf) = 0 adds nothing) and 0 elsewhere — so
;; there are no tails here. All addresses are in bytes; nvec and softmax's vpr (vectors per row)
;; are multiples of 4.
;;
;;   exp(src, dst, nvec)                    dst = exp(src)
;;   gelu(src, dst, nvec)                   dst = x Φ(x)
;;   gelu_grad(src, dst, nvec)              dst = Φ(x) + x φ(x)
;;   softmax_rows(src, dst, rows, vpr)      each row of vpr vectors: exp(x - max) / Σ exp(x - max)
;;                                          (dst may be src)
;;   spread_rows(src, dst, rows, d, dp, pad) rows of d floats back to back -> rows of dp floats padded with pad
;;   gather_rows(src, dst, rows, d, dp)     and back (dp, d in floats; see their comment for the slack)
;;   layer_norm_rows(src, dst, rows, vpr, d, eps, gamma, beta)
;;                                          x̂ γ + β, x̂ = (x - μ) s,  s = 1/sqrt(σ² + eps) over the d
;;                                          real entries of each row (pads are 0); γ, β one padded row each
;;   layer_norm_vjp_rows(x, g, dst, rows, vpr, d, eps)
;;                                          s (g - mean(g) - x̂ mean(g x̂))
;;
;; exp: n = round(x log2 e), t = x - n ln 2 (ln 2 split in two, so t is accurate), exp(t) = 1 + t P(t)
;; with a degree-4 P on |t| <= ln2/2 (a minimax fit for relative error, rounded to float32; its
;; coefficients were then nudged by a few ulp to the smallest error of the float32 evaluation),
;; then scaled by 2^n by adding n to the exponent bits. Relative error below 1.9e-7 (under 3 ulp)
;; over the float32 range (test/native-rows.test.ts measures it); x < ln(FLT_MIN) gives 0,
;; x > ln(FLT_MAX) gives +inf, NaN stays NaN.
;;
;; Φ(x) = (1 + erf(x/√2)) / 2 with Eigen's float32 rational erf (also XLA's and TVM's):
;; erf(z) = z α(z²) / β(z²) on |z| <= 4 (α degree 6, β degree 4 in z²), ±1 beyond, a few ulp of
;; erf. Like PyTorch's float32 GELU, 1 + erf cancels in the far left tail, so gelu and geluGrad
;; are accurate to about 1e-7·(1 + |x|) absolutely there rather than relatively; gelu(x) for
;; x < -5.7 is 0 (its true magnitude is below 6e-8). The plain-JS fallback (src/math.ts's erf32)
;; keeps relative accuracy in that tail.
;;
;; Sums over a row (softmax's normaliser, LayerNorm's moments) accumulate in float64 (two f64x2
;; lanes: the low and high halves of each f32x4 added first), as the plain-JS kernels did; the
;; normaliser's four vectors of a group are first added in float32 (positive terms: a relative
;; error of at most 2^-23 for the whole sum).
(module
  (import "env" "memory" (memory 1 65536))

  ;; ------------------------------------------------------------------------
  ;; exp over a range: dst = exp(src - shift) for nbytes/64 groups of four vectors, returning
  ;; Σ dst in float64. Above ln(FLT_MAX) the result is garbage, not +inf: softmax's and geluGrad's
  ;; arguments are <= 0, and the exp export mends it in a second pass. The one exp body of the module, unrolled over four vectors inside its loop:
  ;; V8 (Node 20) neither inlines wasm calls nor hoists the splatted constants out of a loop, so
  ;; each iteration pays for them once for four vectors.
  ;; ------------------------------------------------------------------------
  (func $exp_shift (param $src i32) (param $dst i32) (param $nbytes i32) (param $shift v128) (result f64)
    (local $i i32) (local $acc v128) (local $g v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $n0 v128) (local $n1 v128) (local $n2 v128) (local $n3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local.set $acc (v128.const f64x2 0 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $nbytes)))
      (local.set $x0 (f32x4.sub (v128.load offset=0 (i32.add (local.get $src) (local.get $i))) (local.get $shift)))
      (local.set $x1 (f32x4.sub (v128.load offset=16 (i32.add (local.get $src) (local.get $i))) (local.get $shift)))
      (local.set $x2 (f32x4.sub (v128.load offset=32 (i32.add (local.get $src) (local.get $i))) (local.get $shift)))
      (local.set $x3 (f32x4.sub (v128.load offset=48 (i32.add (local.get $src) (local.get $i))) (local.get $shift)))
      ;; n = round(x log2 e): adding 1.5·2^23 rounds to an integer, whose low bits then hold n;
      ;; e = n << 23 (those bits shifted: 1.5·2^23's own low 9 bits are 0), which scales a float
      ;; by 2^n when added to its bits
      (local.set $n0 (f32x4.add (f32x4.mul (local.get $x0) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
      (local.set $n1 (f32x4.add (f32x4.mul (local.get $x1) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
      (local.set $n2 (f32x4.add (f32x4.mul (local.get $x2) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
      (local.set $n3 (f32x4.add (f32x4.mul (local.get $x3) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
      (local.set $e0 (i32x4.shl (local.get $n0) (i32.const 23)))
      (local.set $e1 (i32x4.shl (local.get $n1) (i32.const 23)))
      (local.set $e2 (i32x4.shl (local.get $n2) (i32.const 23)))
      (local.set $e3 (i32x4.shl (local.get $n3) (i32.const 23)))
      (local.set $n0 (f32x4.sub (local.get $n0) (f32x4.splat (f32.const 12582912))))
      (local.set $n1 (f32x4.sub (local.get $n1) (f32x4.splat (f32.const 12582912))))
      (local.set $n2 (f32x4.sub (local.get $n2) (f32x4.splat (f32.const 12582912))))
      (local.set $n3 (f32x4.sub (local.get $n3) (f32x4.splat (f32.const 12582912))))
      ;; t = x - n ln 2, ln 2 in two parts (the first has 16 significant bits: n times it is exact)
      (local.set $t0 (f32x4.add (f32x4.mul (local.get $n0) (f32x4.splat (f32.const -0.693145751953125))) (local.get $x0)))
      (local.set $t1 (f32x4.add (f32x4.mul (local.get $n1) (f32x4.splat (f32.const -0.693145751953125))) (local.get $x1)))
      (local.set $t2 (f32x4.add (f32x4.mul (local.get $n2) (f32x4.splat (f32.const -0.693145751953125))) (local.get $x2)))
      (local.set $t3 (f32x4.add (f32x4.mul (local.get $n3) (f32x4.splat (f32.const -0.693145751953125))) (local.get $x3)))
      (local.set $t0 (f32x4.add (f32x4.mul (local.get $n0) (f32x4.splat (f32.const -1.42860677e-6))) (local.get $t0)))
      (local.set $t1 (f32x4.add (f32x4.mul (local.get $n1) (f32x4.splat (f32.const -1.42860677e-6))) (local.get $t1)))
      (local.set $t2 (f32x4.add (f32x4.mul (local.get $n2) (f32x4.splat (f32.const -1.42860677e-6))) (local.get $t2)))
      (local.set $t3 (f32x4.add (f32x4.mul (local.get $n3) (f32x4.splat (f32.const -1.42860677e-6))) (local.get $t3)))
      ;; exp(t) = 1 + t P(t)
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $t0) (f32x4.splat (f32.const 0.008301072))) (f32x4.splat (f32.const 0.041898843))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $t1) (f32x4.splat (f32.const 0.008301072))) (f32x4.splat (f32.const 0.041898843))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $t2) (f32x4.splat (f32.const 0.008301072))) (f32x4.splat (f32.const 0.041898843))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $t3) (f32x4.splat (f32.const 0.008301072))) (f32x4.splat (f32.const 0.041898843))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $t0)) (f32x4.splat (f32.const 0.16667515))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $t1)) (f32x4.splat (f32.const 0.16667515))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $t2)) (f32x4.splat (f32.const 0.16667515))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $t3)) (f32x4.splat (f32.const 0.16667515))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $t0)) (f32x4.splat (f32.const 0.49999136))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $t1)) (f32x4.splat (f32.const 0.49999136))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $t2)) (f32x4.splat (f32.const 0.49999136))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $t3)) (f32x4.splat (f32.const 0.49999136))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $t0)) (f32x4.splat (f32.const 0.9999997))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $t1)) (f32x4.splat (f32.const 0.9999997))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $t2)) (f32x4.splat (f32.const 0.9999997))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $t3)) (f32x4.splat (f32.const 0.9999997))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $t0)) (f32x4.splat (f32.const 1))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $t1)) (f32x4.splat (f32.const 1))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $t2)) (f32x4.splat (f32.const 1))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $t3)) (f32x4.splat (f32.const 1))))
      ;; times 2^n; then 0 below ln(FLT_MIN), where n is out of range (a NaN x compares false and
      ;; stays NaN)
      (local.set $p0 (i32x4.add (local.get $p0) (local.get $e0)))
      (local.set $p1 (i32x4.add (local.get $p1) (local.get $e1)))
      (local.set $p2 (i32x4.add (local.get $p2) (local.get $e2)))
      (local.set $p3 (i32x4.add (local.get $p3) (local.get $e3)))
      (local.set $p0 (v128.andnot (local.get $p0) (f32x4.lt (local.get $x0) (f32x4.splat (f32.const -87.33654)))))
      (local.set $p1 (v128.andnot (local.get $p1) (f32x4.lt (local.get $x1) (f32x4.splat (f32.const -87.33654)))))
      (local.set $p2 (v128.andnot (local.get $p2) (f32x4.lt (local.get $x2) (f32x4.splat (f32.const -87.33654)))))
      (local.set $p3 (v128.andnot (local.get $p3) (f32x4.lt (local.get $x3) (f32x4.splat (f32.const -87.33654)))))
      (v128.store offset=0 (i32.add (local.get $dst) (local.get $i)) (local.get $p0))
      (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (local.get $p1))
      (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (local.get $p2))
      (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (local.get $p3))
      ;; the four vectors added in float32 (relative error at most 2^-23), then to the float64 sum
      (local.set $g (f32x4.add (f32x4.add (local.get $p0) (local.get $p1)) (f32x4.add (local.get $p2) (local.get $p3))))
      (local.set $acc (f64x2.add (local.get $acc)
        (f64x2.add (f64x2.promote_low_f32x4 (local.get $g))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g))))))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc)))
  )

  ;; ------------------------------------------------------------------------
  ;; Φ(x) = (1 + erf(x/√2)) / 2 over a range, then dst = x Φ(x) (gelu), or with $grad
  ;; dst = Φ(x) + x/√(2π) · dst (geluGrad, dst holding exp(-x²/2)), for nbytes/64 groups of four
  ;; vectors. Written out four times in the loop like $exp_shift's body, for the same reason (V8
  ;; splats each constant once per iteration; eight vectors at a time spill registers and were
  ;; slower). The 1/2 of Φ is folded into p's coefficients (Eigen's halved, which is exact), so the
  ;; results are bit for bit those of erf = z p / q, then 1/2 + erf/2. The clamp of erf stays:
  ;; evaluated in float32, z p / q reaches 1 + 3.6e-7 just below z = 4.
  ;; ------------------------------------------------------------------------
  (func $gelu_rows (param $src i32) (param $dst i32) (param $nbytes i32) (param $grad i32)
    (local $i i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $z0 v128) (local $z1 v128) (local $z2 v128) (local $z3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $nbytes)))
      (local.set $x0 (v128.load offset=0 (i32.add (local.get $src) (local.get $i))))
      (local.set $x1 (v128.load offset=16 (i32.add (local.get $src) (local.get $i))))
      (local.set $x2 (v128.load offset=32 (i32.add (local.get $src) (local.get $i))))
      (local.set $x3 (v128.load offset=48 (i32.add (local.get $src) (local.get $i))))
      ;; erf(z) is ±1 in float32 beyond |z| = 4 (pmax/pmin with z first keep a NaN)
      (local.set $z0 (f32x4.pmin (f32x4.pmax (f32x4.mul (local.get $x0) (f32x4.splat (f32.const 0.70710678118654752))) (f32x4.splat (f32.const -4))) (f32x4.splat (f32.const 4))))
      (local.set $z1 (f32x4.pmin (f32x4.pmax (f32x4.mul (local.get $x1) (f32x4.splat (f32.const 0.70710678118654752))) (f32x4.splat (f32.const -4))) (f32x4.splat (f32.const 4))))
      (local.set $z2 (f32x4.pmin (f32x4.pmax (f32x4.mul (local.get $x2) (f32x4.splat (f32.const 0.70710678118654752))) (f32x4.splat (f32.const -4))) (f32x4.splat (f32.const 4))))
      (local.set $z3 (f32x4.pmin (f32x4.pmax (f32x4.mul (local.get $x3) (f32x4.splat (f32.const 0.70710678118654752))) (f32x4.splat (f32.const -4))) (f32x4.splat (f32.const 4))))
      (local.set $s0 (f32x4.mul (local.get $z0) (local.get $z0)))
      (local.set $s1 (f32x4.mul (local.get $z1) (local.get $z1)))
      (local.set $s2 (f32x4.mul (local.get $z2) (local.get $z2)))
      (local.set $s3 (f32x4.mul (local.get $z3) (local.get $z3)))
      ;; z p(z²) / 2, p with its coefficients halved (exactly)
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $s0) (f32x4.splat (f32.const -1.36307112900653e-10))) (f32x4.splat (f32.const 1.38534071247951e-8))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $s1) (f32x4.splat (f32.const -1.36307112900653e-10))) (f32x4.splat (f32.const 1.38534071247951e-8))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $s2) (f32x4.splat (f32.const -1.36307112900653e-10))) (f32x4.splat (f32.const 1.38534071247951e-8))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $s3) (f32x4.splat (f32.const -1.36307112900653e-10))) (f32x4.splat (f32.const 1.38534071247951e-8))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $s0)) (f32x4.splat (f32.const -1.05051201041254e-6))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $s1)) (f32x4.splat (f32.const -1.05051201041254e-6))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $s2)) (f32x4.splat (f32.const -1.05051201041254e-6))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $s3)) (f32x4.splat (f32.const -1.05051201041254e-6))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $s0)) (f32x4.splat (f32.const -2.84625319731173e-5))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $s1)) (f32x4.splat (f32.const -2.84625319731173e-5))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $s2)) (f32x4.splat (f32.const -2.84625319731173e-5))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $s3)) (f32x4.splat (f32.const -2.84625319731173e-5))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $s0)) (f32x4.splat (f32.const -3.674953151634275e-4))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $s1)) (f32x4.splat (f32.const -3.674953151634275e-4))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $s2)) (f32x4.splat (f32.const -3.674953151634275e-4))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $s3)) (f32x4.splat (f32.const -3.674953151634275e-4))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $s0)) (f32x4.splat (f32.const -1.477299904270125e-3))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $s1)) (f32x4.splat (f32.const -1.477299904270125e-3))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $s2)) (f32x4.splat (f32.const -1.477299904270125e-3))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $s3)) (f32x4.splat (f32.const -1.477299904270125e-3))))
      (local.set $p0 (f32x4.add (f32x4.mul (local.get $p0) (local.get $s0)) (f32x4.splat (f32.const -8.04801666312075e-3))))
      (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $s1)) (f32x4.splat (f32.const -8.04801666312075e-3))))
      (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $s2)) (f32x4.splat (f32.const -8.04801666312075e-3))))
      (local.set $p3 (f32x4.add (f32x4.mul (local.get $p3) (local.get $s3)) (f32x4.splat (f32.const -8.04801666312075e-3))))
      (local.set $p0 (f32x4.mul (local.get $z0) (local.get $p0)))
      (local.set $p1 (f32x4.mul (local.get $z1) (local.get $p1)))
      (local.set $p2 (f32x4.mul (local.get $z2) (local.get $p2)))
      (local.set $p3 (f32x4.mul (local.get $z3) (local.get $p3)))
      ;; q(z²)
      (local.set $q0 (f32x4.add (f32x4.mul (local.get $s0) (f32x4.splat (f32.const -1.45660718464996e-05))) (f32x4.splat (f32.const -2.13374055278905e-04))))
      (local.set $q1 (f32x4.add (f32x4.mul (local.get $s1) (f32x4.splat (f32.const -1.45660718464996e-05))) (f32x4.splat (f32.const -2.13374055278905e-04))))
      (local.set $q2 (f32x4.add (f32x4.mul (local.get $s2) (f32x4.splat (f32.const -1.45660718464996e-05))) (f32x4.splat (f32.const -2.13374055278905e-04))))
      (local.set $q3 (f32x4.add (f32x4.mul (local.get $s3) (f32x4.splat (f32.const -1.45660718464996e-05))) (f32x4.splat (f32.const -2.13374055278905e-04))))
      (local.set $q0 (f32x4.add (f32x4.mul (local.get $q0) (local.get $s0)) (f32x4.splat (f32.const -1.68282697438203e-03))))
      (local.set $q1 (f32x4.add (f32x4.mul (local.get $q1) (local.get $s1)) (f32x4.splat (f32.const -1.68282697438203e-03))))
      (local.set $q2 (f32x4.add (f32x4.mul (local.get $q2) (local.get $s2)) (f32x4.splat (f32.const -1.68282697438203e-03))))
      (local.set $q3 (f32x4.add (f32x4.mul (local.get $q3) (local.get $s3)) (f32x4.splat (f32.const -1.68282697438203e-03))))
      (local.set $q0 (f32x4.add (f32x4.mul (local.get $q0) (local.get $s0)) (f32x4.splat (f32.const -7.37332916720468e-03))))
      (local.set $q1 (f32x4.add (f32x4.mul (local.get $q1) (local.get $s1)) (f32x4.splat (f32.const -7.37332916720468e-03))))
      (local.set $q2 (f32x4.add (f32x4.mul (local.get $q2) (local.get $s2)) (f32x4.splat (f32.const -7.37332916720468e-03))))
      (local.set $q3 (f32x4.add (f32x4.mul (local.get $q3) (local.get $s3)) (f32x4.splat (f32.const -7.37332916720468e-03))))
      (local.set $q0 (f32x4.add (f32x4.mul (local.get $q0) (local.get $s0)) (f32x4.splat (f32.const -1.42647390514189e-02))))
      (local.set $q1 (f32x4.add (f32x4.mul (local.get $q1) (local.get $s1)) (f32x4.splat (f32.const -1.42647390514189e-02))))
      (local.set $q2 (f32x4.add (f32x4.mul (local.get $q2) (local.get $s2)) (f32x4.splat (f32.const -1.42647390514189e-02))))
      (local.set $q3 (f32x4.add (f32x4.mul (local.get $q3) (local.get $s3)) (f32x4.splat (f32.const -1.42647390514189e-02))))
      ;; Φ = 1/2 + erf/2, erf/2 = z p / (2 q) kept inside [-1/2, 1/2]
      (local.set $p0 (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.pmin (f32x4.pmax (f32x4.div (local.get $p0) (local.get $q0)) (f32x4.splat (f32.const -0.5))) (f32x4.splat (f32.const 0.5)))))
      (local.set $p1 (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.pmin (f32x4.pmax (f32x4.div (local.get $p1) (local.get $q1)) (f32x4.splat (f32.const -0.5))) (f32x4.splat (f32.const 0.5)))))
      (local.set $p2 (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.pmin (f32x4.pmax (f32x4.div (local.get $p2) (local.get $q2)) (f32x4.splat (f32.const -0.5))) (f32x4.splat (f32.const 0.5)))))
      (local.set $p3 (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.pmin (f32x4.pmax (f32x4.div (local.get $p3) (local.get $q3)) (f32x4.splat (f32.const -0.5))) (f32x4.splat (f32.const 0.5)))))
      (if (local.get $grad)
        (then
          (v128.store offset=0 (i32.add (local.get $dst) (local.get $i)) (f32x4.add (local.get $p0) (f32x4.mul (f32x4.mul (local.get $x0) (f32x4.splat (f32.const 0.39894228040143268))) (v128.load offset=0 (i32.add (local.get $dst) (local.get $i))))))
          (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (f32x4.add (local.get $p1) (f32x4.mul (f32x4.mul (local.get $x1) (f32x4.splat (f32.const 0.39894228040143268))) (v128.load offset=16 (i32.add (local.get $dst) (local.get $i))))))
          (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (f32x4.add (local.get $p2) (f32x4.mul (f32x4.mul (local.get $x2) (f32x4.splat (f32.const 0.39894228040143268))) (v128.load offset=32 (i32.add (local.get $dst) (local.get $i))))))
          (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (f32x4.add (local.get $p3) (f32x4.mul (f32x4.mul (local.get $x3) (f32x4.splat (f32.const 0.39894228040143268))) (v128.load offset=48 (i32.add (local.get $dst) (local.get $i)))))))
        (else
          (v128.store offset=0 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $x0) (local.get $p0)))
          (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $x1) (local.get $p1)))
          (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $x2) (local.get $p2)))
          (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $x3) (local.get $p3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $next)))
  )

  (func (export "exp") (param $src i32) (param $dst i32) (param $nvec i32)
    (local $i i32) (local $o i32)
    (local.set $o (i32.shl (local.get $nvec) (i32.const 4)))
    (drop (call $exp_shift (local.get $src) (local.get $dst) (local.get $o) (v128.const f32x4 0 0 0 0)))
    ;; +inf above ln(FLT_MAX)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $o)))
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (v128.bitselect (v128.const f32x4 inf inf inf inf) (v128.load (i32.add (local.get $dst) (local.get $i)))
            (f32x4.gt (v128.load (i32.add (local.get $src) (local.get $i))) (f32x4.splat (f32.const 88.72283)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
  )

  (func (export "gelu") (param $src i32) (param $dst i32) (param $nvec i32)
    (call $gelu_rows (local.get $src) (local.get $dst) (i32.shl (local.get $nvec) (i32.const 4)) (i32.const 0))
  )

  ;; Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π); in chunks of 4 KiB that stay in L1: -x²/2 into
  ;; dst, its exp in place ($exp_shift), then Φ(x) + x/√(2π) · dst ($gelu_rows)
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
        (call $gelu_rows (i32.add (local.get $src) (local.get $c)) (i32.add (local.get $dst) (local.get $c))
          (local.get $len) (i32.const 1))
        (local.set $c (i32.add (local.get $c) (local.get $len)))
        (br $chunk)))
  )

  ;; ------------------------------------------------------------------------
  ;; Row layouts: rows of d floats back to back (as the JS side holds them) <-> rows padded to dp
  ;; floats, one vector at a time. Each row's copy moves whole vectors, so it reads and writes up
  ;; to 3 floats past the row's end: into the next row, rewritten next, or past the last row, where
  ;; the JS side leaves 3 floats of slack; spread's pad vectors may run 3 floats into the next row,
  ;; which its copy then overwrites.
  ;; ------------------------------------------------------------------------
  (func (export "spread_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $d i32) (param $dp i32) (param $pad f32)
    (local $row i32) (local $i i32) (local $db i32) (local $pb i32) (local $pv v128)
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (local.set $pb (i32.shl (local.get $dp) (i32.const 2)))
    (local.set $pv (f32x4.splat (local.get $pad)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $db)))
          (v128.store (i32.add (local.get $dst) (local.get $i)) (v128.load (i32.add (local.get $src) (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $i (local.get $db))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $i) (local.get $pb)))
          (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $pv))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l2)))
        (local.set $src (i32.add (local.get $src) (local.get $db)))
        (local.set $dst (i32.add (local.get $dst) (local.get $pb)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next_row)))
  )

  (func (export "gather_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $d i32) (param $dp i32)
    (local $row i32) (local $i i32) (local $db i32) (local $pb i32)
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (local.set $pb (i32.shl (local.get $dp) (i32.const 2)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $db)))
          (v128.store (i32.add (local.get $dst) (local.get $i)) (v128.load (i32.add (local.get $src) (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $src (i32.add (local.get $src) (local.get $pb)))
        (local.set $dst (i32.add (local.get $dst) (local.get $db)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $next_row)))
  )

  (func (export "softmax_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $vpr i32)
    (local $row i32) (local $rb i32) (local $i i32) (local $m v128) (local $z f64) (local $inv v128) (local $mx f32)
    (local.set $rb (i32.shl (local.get $vpr) (i32.const 4)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; max, four vectors at a time (pmax with the load first is one instruction and lets a NaN
        ;; in; a NaN anywhere in the row makes the whole row NaN below, as in the reference)
        (local.set $m (v128.load (local.get $src)))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $rb)))
          (local.set $m (f32x4.pmax
            (f32x4.pmax
              (f32x4.pmax (v128.load (i32.add (local.get $src) (local.get $i))) (v128.load offset=16 (i32.add (local.get $src) (local.get $i))))
              (f32x4.pmax (v128.load offset=32 (i32.add (local.get $src) (local.get $i))) (v128.load offset=48 (i32.add (local.get $src) (local.get $i)))))
            (local.get $m)))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
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
          (v128.store offset=16 (i32.add (local.get $dst) (local.get $i))
            (f32x4.mul (v128.load offset=16 (i32.add (local.get $dst) (local.get $i))) (local.get $inv)))
          (v128.store offset=32 (i32.add (local.get $dst) (local.get $i))
            (f32x4.mul (v128.load offset=32 (i32.add (local.get $dst) (local.get $i))) (local.get $inv)))
          (v128.store offset=48 (i32.add (local.get $dst) (local.get $i))
            (f32x4.mul (v128.load offset=48 (i32.add (local.get $dst) (local.get $i))) (local.get $inv)))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
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
