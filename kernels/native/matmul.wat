;; matpac-ts native CPU matmul kernel: cache-blocked, register-blocked, 128-bit SIMD.
;;
;; Assembled ahead of time by scripts/build-wasm.ts with the `wabt` package into matmul.wasm (and matmul-single.wasm)
;; (features: simd, threads). Everything lives in one imported shared memory;
;; the JS side copies operands in, calls `run_job` on one or two threads, and
;; copies C out.
;;
;; Algorithm (Goto/BLIS style) for one product C = op(A) @ op(B), op(A): M x K, op(B): K x N.
;; The work is cut into independent chunks = (batch item, column panel jc, block of rows);
;; each thread claims chunks from a shared atomic counter (dynamic scheduling, so a thread
;; that starts late or shares a core just takes fewer chunks). For one chunk:
;;   ensure op(B)[0:K, jc:jc+nc] is packed in this thread's wsB (cached across chunks:
;;       for every KC-deep slice, micro-panels of NR=16 columns, k-major)
;;   for pc in 0..K step KC
;;     for ib in chunk rows step MC
;;       pack op(A)[ib:ib+MC, pc:pc+kc] -> wsA    (micro-panels of MR=2 rows, k-major; L2)
;;       for jr in 0..nc step 16                    (B micro-panel kc x 16 stays in L1)
;;         for ir in 0..MC step 2
;;           C[ir:+2, jr:+16] (+)= Ap(ir) @ Bp(jr)  <- 2x16 microkernel
;;
;; Microkernel shape: 2 x 16 = 8 v128 accumulators + 4 B vectors + 1 broadcast A.
;; V8 (x64) hands wasm only xmm0..xmm15, one of which is scratch; tiles with
;; 12 accumulators (6x8, 3x16, ...) spill and ran at ~25-32 GFLOP/s on the
;; project machine, while 2x16 runs at ~58-60 GFLOP/s and 4x8 at ~50 in isolation.
;; f32x4.mul + f32x4.add here; scripts/build-wasm.ts also assembles matmul-fma*.wasm, where each
;; of the microkernel's 8 multiply-adds is relaxed-simd's f32x4.relaxed_madd (one FMA), loaded
;; where relaxed SIMD compiles (Node 20 behind a V8 flag that kernels/platform.ts sets).
;;
;; Strides are given in elements: element (i,k) of op(A) is at a + 4*(i*rsA + k*csA),
;; element (k,j) of op(B) is at b + 4*(k*rsB + j*csB). So a row-major A has
;; (rsA,csA) = (K,1) and a transposed one ([K,M] in memory) has (1,M).
;;
;; Job parameter block (i32 words at byte address p), read by run_job:
;;    0 a   1 b   2 c            byte addresses of batch item 0
;;    3 aBS 4 bBS 5 cBS          batch strides in bytes (0 = operand shared by all items)
;;    6 items  7 M  8 K  9 N
;;   10 rsA 11 csA 12 rsB 13 csB 14 ldc    (elements)
;;   15 MCH   rows per chunk (even unless it covers all M)
;;   16 KC    depth of a packed slice
;;   17 NC    columns per panel (multiple of 16; wsB holds roundUp(NC,16) x K floats)
;;   18 nRowChunks = ceil(M / MCH)   19 nJc = ceil(N / NC)   20 nChunks = items*nJc*nRowChunks
;;   21 claim counter (atomic)       22 completed counter (atomic)
;;   23 MC    rows of a packed A block (even; wsA holds MC x KC floats)
;;   24 inner  batch items come in groups of `inner`: item = outer*inner + i
;;   25 aBS1 26 bBS1   byte strides between the items of a group (A, B); aBS/bBS step the groups,
;;                     so an operand read in place through a permuted view (attention's heads)
;;                     needs no copy; inner = 1 and aBS1 = bBS1 = 0 for one level of batch.
;;                     C is always contiguous: item `item` at c + item*cBS.
(module
  (import "env" "memory" (memory 1 32768 shared))

  ;; ------------------------------------------------------------------------
  ;; 2x16 microkernel. C rows at c and c+ldc (ldc in bytes).
  ;; acc = 0: C = Ap @ Bp ; acc != 0: C += Ap @ Bp. kc >= 1.
  ;; Ap: kc x 2 floats (k-major), Bp: kc x 16 floats (k-major).
  ;; ------------------------------------------------------------------------
  (func $kern (param $kc i32) (param $a i32) (param $b i32) (param $c i32) (param $ldc i32) (param $acc i32)
    (local $c1 i32)
    (local $av v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local.set $c1 (i32.add (local.get $c) (local.get $ldc)))
    (if (local.get $acc)
      (then
        (local.set $c00 (v128.load offset=0  (local.get $c)))
        (local.set $c01 (v128.load offset=16 (local.get $c)))
        (local.set $c02 (v128.load offset=32 (local.get $c)))
        (local.set $c03 (v128.load offset=48 (local.get $c)))
        (local.set $c10 (v128.load offset=0  (local.get $c1)))
        (local.set $c11 (v128.load offset=16 (local.get $c1)))
        (local.set $c12 (v128.load offset=32 (local.get $c1)))
        (local.set $c13 (v128.load offset=48 (local.get $c1)))))
    (loop $k
      (local.set $b0 (v128.load offset=0  (local.get $b)))
      (local.set $b1 (v128.load offset=16 (local.get $b)))
      (local.set $b2 (v128.load offset=32 (local.get $b)))
      (local.set $b3 (v128.load offset=48 (local.get $b)))
      ;; row 0
      (local.set $av (v128.load32_splat offset=0 (local.get $a)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $av) (local.get $b2))))
      (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $av) (local.get $b3))))
      ;; row 1
      (local.set $av (v128.load32_splat offset=4 (local.get $a)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $av) (local.get $b2))))
      (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $av) (local.get $b3))))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (local.set $b (i32.add (local.get $b) (i32.const 64)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store offset=0  (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (v128.store offset=32 (local.get $c) (local.get $c02))
    (v128.store offset=48 (local.get $c) (local.get $c03))
    (v128.store offset=0  (local.get $c1) (local.get $c10))
    (v128.store offset=16 (local.get $c1) (local.get $c11))
    (v128.store offset=32 (local.get $c1) (local.get $c12))
    (v128.store offset=48 (local.get $c1) (local.get $c13)))

  ;; ------------------------------------------------------------------------
  ;; Pack an mc x kc block of op(A) (rs, cs in bytes) into micro-panels of 2 rows:
  ;; dst[p][k][r] = A(2p + r, k), the missing row of an odd tail is zero.
  ;; ------------------------------------------------------------------------
  (func $packA (param $src i32) (param $rs i32) (param $cs i32) (param $mc i32) (param $kc i32) (param $dst i32)
    (local $i i32) (local $k i32) (local $r0 i32) (local $r1 i32) (local $v0 v128) (local $v1 v128)
    (local.set $i (i32.const 0))
    (block $doneI
      (loop $rows
        (br_if $doneI (i32.ge_s (local.get $i) (local.get $mc)))
        (local.set $r0 (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rs))))
        (local.set $r1 (i32.add (local.get $r0) (local.get $rs)))
        (local.set $k (i32.const 0))
        (if (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $mc))
          (then
            (if (i32.eq (local.get $cs) (i32.const 4))
              (then
                ;; rows contiguous in k (row-major A): zip 4 k-values of the two rows.
                (block $done4
                  (loop $k4
                    (br_if $done4 (i32.gt_s (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                    (local.set $v0 (v128.load (local.get $r0)))
                    (local.set $v1 (v128.load (local.get $r1)))
                    (v128.store offset=0 (local.get $dst)
                      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                    (v128.store offset=16 (local.get $dst)
                      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                    (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
                    (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                    (local.set $k (i32.add (local.get $k) (i32.const 4)))
                    (br $k4)))))
            (if (i32.eq (local.get $rs) (i32.const 4))
              (then
                ;; transposed A: the two rows are adjacent floats for each k.
                (block $done1
                  (loop $k1
                    (br_if $done1 (i32.ge_s (local.get $k) (local.get $kc)))
                    (i64.store (local.get $dst) (i64.load (local.get $r0)))
                    (local.set $r0 (i32.add (local.get $r0) (local.get $cs)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $k1)))))
            ;; general / remainder
            (local.set $r1 (i32.add (local.get $r0) (local.get $rs)))
            (block $doneG
              (loop $kg
                (br_if $doneG (i32.ge_s (local.get $k) (local.get $kc)))
                (f32.store offset=0 (local.get $dst) (f32.load (local.get $r0)))
                (f32.store offset=4 (local.get $dst) (f32.load (local.get $r1)))
                (local.set $r0 (i32.add (local.get $r0) (local.get $cs)))
                (local.set $r1 (i32.add (local.get $r1) (local.get $cs)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kg))))
          (else
            ;; odd tail: one real row, one zero row
            (block $doneT
              (loop $kt
                (br_if $doneT (i32.ge_s (local.get $k) (local.get $kc)))
                (f32.store offset=0 (local.get $dst) (f32.load (local.get $r0)))
                (f32.store offset=4 (local.get $dst) (f32.const 0))
                (local.set $r0 (i32.add (local.get $r0) (local.get $cs)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kt)))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $rows))))

  ;; ------------------------------------------------------------------------
  ;; Pack a kc x nc block of op(B) (rs, cs in bytes) into micro-panels of 16 columns:
  ;; dst[p][k][j] = B(k, 16p + j), missing columns of the tail panel are zero.
  ;; ------------------------------------------------------------------------
  (func $packB (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $nc i32) (param $dst i32)
    (local $j i32) (local $k i32) (local $jj i32) (local $nr i32) (local $col i32) (local $p i32) (local $q i32) (local $g i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $j (i32.const 0))
    (block $doneJ
      (loop $panels
        (br_if $doneJ (i32.ge_s (local.get $j) (local.get $nc)))
        (local.set $nr (i32.sub (local.get $nc) (local.get $j)))
        (if (i32.gt_s (local.get $nr) (i32.const 16)) (then (local.set $nr (i32.const 16))))
        (local.set $col (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $cs))))
        (local.set $k (i32.const 0))
        (if (i32.eq (local.get $nr) (i32.const 16))
          (then
            (if (i32.eq (local.get $cs) (i32.const 4))
              (then
                ;; row-major B: each k is 16 contiguous floats.
                (local.set $p (local.get $col))
                (block $doneC
                  (loop $kc4
                    (br_if $doneC (i32.ge_s (local.get $k) (local.get $kc)))
                    (v128.store offset=0  (local.get $dst) (v128.load offset=0  (local.get $p)))
                    (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $p)))
                    (v128.store offset=32 (local.get $dst) (v128.load offset=32 (local.get $p)))
                    (v128.store offset=48 (local.get $dst) (v128.load offset=48 (local.get $p)))
                    (local.set $p (i32.add (local.get $p) (local.get $rs)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $kc4)))))
            (if (i32.eq (local.get $rs) (i32.const 4))
              (then
                ;; transposed B ([N,K] in memory): 4x4 transposes of 4 columns x 4 k.
                (block $doneT
                  (loop $kt
                    (br_if $doneT (i32.gt_s (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                    (local.set $g (i32.const 0))
                    (loop $groups
                      ;; q = first of 4 columns (j + 4g), at k
                      (local.set $q (i32.add (local.get $col)
                        (i32.add (i32.mul (i32.shl (local.get $g) (i32.const 2)) (local.get $cs))
                                 (i32.shl (local.get $k) (i32.const 2)))))
                      (local.set $r0 (v128.load (local.get $q)))
                      (local.set $q (i32.add (local.get $q) (local.get $cs)))
                      (local.set $r1 (v128.load (local.get $q)))
                      (local.set $q (i32.add (local.get $q) (local.get $cs)))
                      (local.set $r2 (v128.load (local.get $q)))
                      (local.set $q (i32.add (local.get $q) (local.get $cs)))
                      (local.set $r3 (v128.load (local.get $q)))
                      ;; t0 = r0[0] r1[0] r0[1] r1[1] ; t1 = r2[0] r3[0] r2[1] r3[1]
                      ;; t2 = r0[2] r1[2] r0[3] r1[3] ; t3 = r2[2] r3[2] r2[3] r3[3]
                      (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                      (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                      (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                      (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                      (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $g) (i32.const 4))))
                      (v128.store offset=0   (local.get $p)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
                      (v128.store offset=64  (local.get $p)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
                      (v128.store offset=128 (local.get $p)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
                      (v128.store offset=192 (local.get $p)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
                      (local.set $g (i32.add (local.get $g) (i32.const 1)))
                      (br_if $groups (i32.lt_s (local.get $g) (i32.const 4))))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 256)))
                    (local.set $k (i32.add (local.get $k) (i32.const 4)))
                    (br $kt)))))))
        ;; general / remainder rows k..kc-1 (zero-padded to 16 columns)
        (block $doneG
          (loop $kg
            (br_if $doneG (i32.ge_s (local.get $k) (local.get $kc)))
            (local.set $p (i32.add (local.get $col) (i32.mul (local.get $k) (local.get $rs))))
            (local.set $jj (i32.const 0))
            (loop $cols
              (if (i32.lt_s (local.get $jj) (local.get $nr))
                (then (f32.store (local.get $dst) (f32.load (local.get $p))))
                (else (f32.store (local.get $dst) (f32.const 0))))
              (local.set $p (i32.add (local.get $p) (local.get $cs)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
              (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
              (br_if $cols (i32.lt_s (local.get $jj) (i32.const 16))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kg)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $panels))))

  ;; ------------------------------------------------------------------------
  ;; Macro kernel: C[0:mc, 0:nc] (= or +=) Ap (mc x kc, packed) @ Bp (kc x nc, packed).
  ;; c: byte address of C[0,0]; ldcB: row stride of C in bytes; tmp: 2x16 scratch tile.
  ;; ------------------------------------------------------------------------
  (func $macro (param $kc i32) (param $mc i32) (param $nc i32) (param $ap0 i32) (param $bp0 i32)
               (param $c i32) (param $ldcB i32) (param $acc i32) (param $tmp i32)
    (local $jr i32) (local $nr i32) (local $ir i32) (local $mr i32)
    (local $cp i32) (local $ap i32) (local $bp i32) (local $x i32) (local $y i32)
    (local.set $jr (i32.const 0))
    (block $doneJR (loop $JR
      (br_if $doneJR (i32.ge_s (local.get $jr) (local.get $nc)))
      (local.set $nr (i32.sub (local.get $nc) (local.get $jr)))
      (if (i32.gt_s (local.get $nr) (i32.const 16)) (then (local.set $nr (i32.const 16))))
      (local.set $bp (i32.add (local.get $bp0) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2))))
      (local.set $ap (local.get $ap0))
      (local.set $cp (i32.add (local.get $c) (i32.shl (local.get $jr) (i32.const 2))))
      (local.set $ir (i32.const 0))
      (block $doneIR (loop $IR
        (br_if $doneIR (i32.ge_s (local.get $ir) (local.get $mc)))
        (local.set $mr (i32.sub (local.get $mc) (local.get $ir)))
        (if (i32.gt_s (local.get $mr) (i32.const 2)) (then (local.set $mr (i32.const 2))))
        (if (i32.and (i32.eq (local.get $mr) (i32.const 2)) (i32.eq (local.get $nr) (i32.const 16)))
          (then
            (call $kern (local.get $kc) (local.get $ap) (local.get $bp) (local.get $cp) (local.get $ldcB) (local.get $acc)))
          (else
            ;; edge tile: go through the 2x16 scratch tile
            (if (local.get $acc)
              (then
                (local.set $y (i32.const 0))
                (loop $cy
                  (local.set $x (i32.const 0))
                  (loop $cx
                    (f32.store
                      (i32.add (local.get $tmp) (i32.shl (i32.add (i32.shl (local.get $y) (i32.const 4)) (local.get $x)) (i32.const 2)))
                      (f32.load (i32.add (local.get $cp)
                        (i32.add (i32.mul (local.get $y) (local.get $ldcB)) (i32.shl (local.get $x) (i32.const 2))))))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (br_if $cx (i32.lt_s (local.get $x) (local.get $nr))))
                  (local.set $y (i32.add (local.get $y) (i32.const 1)))
                  (br_if $cy (i32.lt_s (local.get $y) (local.get $mr))))))
            (call $kern (local.get $kc) (local.get $ap) (local.get $bp) (local.get $tmp) (i32.const 64) (local.get $acc))
            (local.set $y (i32.const 0))
            (loop $oy
              (local.set $x (i32.const 0))
              (loop $ox
                (f32.store
                  (i32.add (local.get $cp)
                    (i32.add (i32.mul (local.get $y) (local.get $ldcB)) (i32.shl (local.get $x) (i32.const 2))))
                  (f32.load (i32.add (local.get $tmp) (i32.shl (i32.add (i32.shl (local.get $y) (i32.const 4)) (local.get $x)) (i32.const 2)))))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br_if $ox (i32.lt_s (local.get $x) (local.get $nr))))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br_if $oy (i32.lt_s (local.get $y) (local.get $mr))))))
        (local.set $ap (i32.add (local.get $ap) (i32.shl (local.get $kc) (i32.const 3))))
        (local.set $cp (i32.add (local.get $cp) (i32.shl (local.get $ldcB) (i32.const 1))))
        (local.set $ir (i32.add (local.get $ir) (i32.const 2)))
        (br $IR)))
      (local.set $jr (i32.add (local.get $jr) (i32.const 16)))
      (br $JR))))

  ;; ------------------------------------------------------------------------
  ;; Run chunks of the job at p until the shared claim counter runs out.
  ;; wsA: MC*KC floats, wsB: roundUp(NC,16)*K floats, tmp: 32 floats (this thread's).
  ;; ------------------------------------------------------------------------
  (func (export "run_job") (param $p i32) (param $wsA i32) (param $wsB i32) (param $tmp i32)
    (local $idx i32) (local $rc i32) (local $t i32) (local $jci i32) (local $item i32)
    (local $M i32) (local $K i32) (local $N i32) (local $MCH i32) (local $KC i32) (local $NC i32)
    (local $rsA i32) (local $csA i32) (local $rsB i32) (local $csB i32) (local $ldcB i32)
    (local $nRC i32) (local $nJc i32) (local $nChunks i32)
    (local $aItem i32) (local $bItem i32) (local $cItem i32)
    (local $r0 i32) (local $mc i32) (local $jc i32) (local $nc i32) (local $ncPad i32)
    (local $pc i32) (local $kc i32)
    (local $keyB i32) (local $keyJc i32) (local $MC i32) (local $ib i32) (local $mb i32)
    (local $inner i32) (local $grp i32) (local $sub i32)
    (local.set $inner (i32.load offset=96 (local.get $p)))
    (local.set $MC (i32.load offset=92 (local.get $p)))
    (local.set $M (i32.load offset=28 (local.get $p)))
    (local.set $K (i32.load offset=32 (local.get $p)))
    (local.set $N (i32.load offset=36 (local.get $p)))
    (local.set $rsA (i32.shl (i32.load offset=40 (local.get $p)) (i32.const 2)))
    (local.set $csA (i32.shl (i32.load offset=44 (local.get $p)) (i32.const 2)))
    (local.set $rsB (i32.shl (i32.load offset=48 (local.get $p)) (i32.const 2)))
    (local.set $csB (i32.shl (i32.load offset=52 (local.get $p)) (i32.const 2)))
    (local.set $ldcB (i32.shl (i32.load offset=56 (local.get $p)) (i32.const 2)))
    (local.set $MCH (i32.load offset=60 (local.get $p)))
    (local.set $KC (i32.load offset=64 (local.get $p)))
    (local.set $NC (i32.load offset=68 (local.get $p)))
    (local.set $nRC (i32.load offset=72 (local.get $p)))
    (local.set $nJc (i32.load offset=76 (local.get $p)))
    (local.set $nChunks (i32.load offset=80 (local.get $p)))
    (local.set $keyB (i32.const -1))
    (local.set $keyJc (i32.const -1))
    (block $done (loop $chunks
      (local.set $idx (i32.atomic.rmw.add offset=84 (local.get $p) (i32.const 1)))
      (br_if $done (i32.ge_u (local.get $idx) (local.get $nChunks)))
      ;; idx = (item * nJc + jci) * nRC + rc
      (local.set $rc (i32.rem_u (local.get $idx) (local.get $nRC)))
      (local.set $t (i32.div_u (local.get $idx) (local.get $nRC)))
      (local.set $jci (i32.rem_u (local.get $t) (local.get $nJc)))
      (local.set $item (i32.div_u (local.get $t) (local.get $nJc)))
      (local.set $grp (i32.div_u (local.get $item) (local.get $inner)))
      (local.set $sub (i32.rem_u (local.get $item) (local.get $inner)))
      (local.set $aItem (i32.add (i32.load offset=0 (local.get $p))
        (i32.add (i32.mul (local.get $grp) (i32.load offset=12 (local.get $p)))
                 (i32.mul (local.get $sub) (i32.load offset=100 (local.get $p))))))
      (local.set $bItem (i32.add (i32.load offset=4 (local.get $p))
        (i32.add (i32.mul (local.get $grp) (i32.load offset=16 (local.get $p)))
                 (i32.mul (local.get $sub) (i32.load offset=104 (local.get $p))))))
      (local.set $cItem (i32.add (i32.load offset=8 (local.get $p)) (i32.mul (local.get $item) (i32.load offset=20 (local.get $p)))))
      (local.set $r0 (i32.mul (local.get $rc) (local.get $MCH)))
      (local.set $mc (i32.sub (local.get $M) (local.get $r0)))
      (if (i32.gt_s (local.get $mc) (local.get $MCH)) (then (local.set $mc (local.get $MCH))))
      (local.set $jc (i32.mul (local.get $jci) (local.get $NC)))
      (local.set $nc (i32.sub (local.get $N) (local.get $jc)))
      (if (i32.gt_s (local.get $nc) (local.get $NC)) (then (local.set $nc (local.get $NC))))
      (local.set $ncPad (i32.and (i32.add (local.get $nc) (i32.const 15)) (i32.const -16)))
      ;; pack op(B)[:, jc:jc+nc] for all K unless this thread already has it
      (if (i32.or (i32.ne (local.get $bItem) (local.get $keyB)) (i32.ne (local.get $jc) (local.get $keyJc)))
        (then
          (local.set $keyB (local.get $bItem))
          (local.set $keyJc (local.get $jc))
          (local.set $pc (i32.const 0))
          (block $donePB (loop $PB
            (br_if $donePB (i32.ge_s (local.get $pc) (local.get $K)))
            (local.set $kc (i32.sub (local.get $K) (local.get $pc)))
            (if (i32.gt_s (local.get $kc) (local.get $KC)) (then (local.set $kc (local.get $KC))))
            (call $packB
              (i32.add (local.get $bItem) (i32.add (i32.mul (local.get $pc) (local.get $rsB)) (i32.mul (local.get $jc) (local.get $csB))))
              (local.get $rsB) (local.get $csB) (local.get $kc) (local.get $nc)
              (i32.add (local.get $wsB) (i32.shl (i32.mul (local.get $pc) (local.get $ncPad)) (i32.const 2))))
            (local.set $pc (i32.add (local.get $pc) (local.get $KC)))
            (br $PB)))))
      ;; C[r0:r0+mc, jc:jc+nc] = sum over pc of packed A blocks (MC rows) @ packed B slice
      (local.set $pc (i32.const 0))
      (block $donePC (loop $PC
        (br_if $donePC (i32.ge_s (local.get $pc) (local.get $K)))
        (local.set $kc (i32.sub (local.get $K) (local.get $pc)))
        (if (i32.gt_s (local.get $kc) (local.get $KC)) (then (local.set $kc (local.get $KC))))
        (local.set $ib (i32.const 0))
        (block $doneIB (loop $IB
          (br_if $doneIB (i32.ge_s (local.get $ib) (local.get $mc)))
          (local.set $mb (i32.sub (local.get $mc) (local.get $ib)))
          (if (i32.gt_s (local.get $mb) (local.get $MC)) (then (local.set $mb (local.get $MC))))
          (call $packA
            (i32.add (local.get $aItem) (i32.add (i32.mul (i32.add (local.get $r0) (local.get $ib)) (local.get $rsA))
                                                 (i32.mul (local.get $pc) (local.get $csA))))
            (local.get $rsA) (local.get $csA) (local.get $mb) (local.get $kc) (local.get $wsA))
          (call $macro (local.get $kc) (local.get $mb) (local.get $nc) (local.get $wsA)
            (i32.add (local.get $wsB) (i32.shl (i32.mul (local.get $pc) (local.get $ncPad)) (i32.const 2)))
            (i32.add (local.get $cItem) (i32.add (i32.mul (i32.add (local.get $r0) (local.get $ib)) (local.get $ldcB))
                                                 (i32.shl (local.get $jc) (i32.const 2))))
            (local.get $ldcB) (i32.gt_s (local.get $pc) (i32.const 0)) (local.get $tmp))
          (local.set $ib (i32.add (local.get $ib) (local.get $MC)))
          (br $IB)))
        (local.set $pc (i32.add (local.get $pc) (local.get $KC)))
        (br $PC)))
      (drop (i32.atomic.rmw.add offset=88 (local.get $p) (i32.const 1)))
      (br $chunks))))
;; ------------------------------------------------------------------------
  ;; C[r, :] += bias for rows r of C (row length n floats; byte addresses), the fused bias of
  ;; a linear layer, applied before C is copied out.
  ;; ------------------------------------------------------------------------
  (func (export "add_bias") (param $c i32) (param $rows i32) (param $n i32) (param $bias i32)
    (local $r i32) (local $j i32) (local $n4 i32) (local $o i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $o (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (local.get $o)
              (f32x4.add (v128.load (local.get $o))
                (v128.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $o (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $o)
              (f32.add (f32.load (local.get $o))
                (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $c (i32.add (local.get $c) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next_row)))
  )
)
