;; The engine's matrix-product kernel in WebAssembly with 128-bit SIMD (no relaxed SIMD, no FMA).
;;
;;   C(i, j) = acc_k,  acc_0 = (init ? C(i, j) : 0),  acc_{p+1} = f32(acc_p + f32(A(i, p)·B(p, j)))
;;
;; for i < n, j < m, with A(i, p) at a + 4·(i·as0 + p·as1), B(p, j) at b + 4·(p·bs + j) (rows of B
;; contiguous) and C(i, j) at c + 4·(i·cs0 + j·cs1). Each output element is its own float32
;; accumulator, summed in ascending p with the product rounded first: lanes only ever hold
;; different output columns, so the bits equal the scalar reference matmulReference in
;; ml/model/kernels.ts whatever the blocking. Register blocks: 4 rows × 8 columns (8 v128
;; accumulators), then 4-column and single-column tails, then single rows. kernelsScalar.wat is
;; the same product without SIMD, for CPUs that lack it: a change here belongs there too.
(module
  (memory (export "memory") 1)

  ;; four floats at p, p+s, p+2s, p+3s (s in bytes)
  (func $load4 (param $p i32) (param $s i32) (result v128)
    (if (result v128) (i32.eq (local.get $s) (i32.const 4))
      (then (v128.load (local.get $p)))
      (else
        (f32x4.replace_lane 3
          (f32x4.replace_lane 2
            (f32x4.replace_lane 1
              (f32x4.splat (f32.load (local.get $p)))
              (f32.load (i32.add (local.get $p) (local.get $s))))
            (f32.load (i32.add (local.get $p) (i32.shl (local.get $s) (i32.const 1)))))
          (f32.load (i32.add (local.get $p) (i32.mul (local.get $s) (i32.const 3))))))))

  (func $store4 (param $p i32) (param $s i32) (param $v v128)
    (if (i32.eq (local.get $s) (i32.const 4))
      (then (v128.store (local.get $p) (local.get $v)))
      (else
        (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v)))
        (f32.store (i32.add (local.get $p) (local.get $s)) (f32x4.extract_lane 1 (local.get $v)))
        (f32.store (i32.add (local.get $p) (i32.shl (local.get $s) (i32.const 1))) (f32x4.extract_lane 2 (local.get $v)))
        (f32.store (i32.add (local.get $p) (i32.mul (local.get $s) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v))))))

  ;; 4 rows × 8 columns; strides in bytes
  (func $block4x8 (param $a i32) (param $as0 i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $cs0 i32) (param $cs1 i32) (param $k i32) (param $init i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32) (local $half i32)
    (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $c1 (i32.add (local.get $c) (local.get $cs0)))
    (local.set $c2 (i32.add (local.get $c1) (local.get $cs0)))
    (local.set $c3 (i32.add (local.get $c2) (local.get $cs0)))
    (local.set $half (i32.shl (local.get $cs1) (i32.const 2)))
    (if (local.get $init)
      (then
        (local.set $s00 (call $load4 (local.get $c) (local.get $cs1)))
        (local.set $s01 (call $load4 (i32.add (local.get $c) (local.get $half)) (local.get $cs1)))
        (local.set $s10 (call $load4 (local.get $c1) (local.get $cs1)))
        (local.set $s11 (call $load4 (i32.add (local.get $c1) (local.get $half)) (local.get $cs1)))
        (local.set $s20 (call $load4 (local.get $c2) (local.get $cs1)))
        (local.set $s21 (call $load4 (i32.add (local.get $c2) (local.get $half)) (local.get $cs1)))
        (local.set $s30 (call $load4 (local.get $c3) (local.get $cs1)))
        (local.set $s31 (call $load4 (i32.add (local.get $c3) (local.get $half)) (local.get $cs1)))))
    (local.set $a1 (i32.add (local.get $a) (local.get $as0)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $as0)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $as0)))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $b0 (v128.load (local.get $b)))
          (local.set $b1 (v128.load offset=16 (local.get $b)))
          (local.set $x (v128.load32_splat (local.get $a)))
          (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x) (local.get $b0))))
          (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load32_splat (local.get $a1)))
          (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x) (local.get $b0))))
          (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load32_splat (local.get $a2)))
          (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x) (local.get $b0))))
          (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x) (local.get $b1))))
          (local.set $x (v128.load32_splat (local.get $a3)))
          (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x) (local.get $b0))))
          (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x) (local.get $b1))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $a1 (i32.add (local.get $a1) (local.get $as1)))
          (local.set $a2 (i32.add (local.get $a2) (local.get $as1)))
          (local.set $a3 (i32.add (local.get $a3) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (call $store4 (local.get $c) (local.get $cs1) (local.get $s00))
    (call $store4 (i32.add (local.get $c) (local.get $half)) (local.get $cs1) (local.get $s01))
    (call $store4 (local.get $c1) (local.get $cs1) (local.get $s10))
    (call $store4 (i32.add (local.get $c1) (local.get $half)) (local.get $cs1) (local.get $s11))
    (call $store4 (local.get $c2) (local.get $cs1) (local.get $s20))
    (call $store4 (i32.add (local.get $c2) (local.get $half)) (local.get $cs1) (local.get $s21))
    (call $store4 (local.get $c3) (local.get $cs1) (local.get $s30))
    (call $store4 (i32.add (local.get $c3) (local.get $half)) (local.get $cs1) (local.get $s31)))

  ;; 4 rows × 4 columns
  (func $block4x4 (param $a i32) (param $as0 i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $cs0 i32) (param $cs1 i32) (param $k i32) (param $init i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $b0 v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $c1 (i32.add (local.get $c) (local.get $cs0)))
    (local.set $c2 (i32.add (local.get $c1) (local.get $cs0)))
    (local.set $c3 (i32.add (local.get $c2) (local.get $cs0)))
    (if (local.get $init)
      (then
        (local.set $s0 (call $load4 (local.get $c) (local.get $cs1)))
        (local.set $s1 (call $load4 (local.get $c1) (local.get $cs1)))
        (local.set $s2 (call $load4 (local.get $c2) (local.get $cs1)))
        (local.set $s3 (call $load4 (local.get $c3) (local.get $cs1)))))
    (local.set $a1 (i32.add (local.get $a) (local.get $as0)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $as0)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $as0)))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $b0 (v128.load (local.get $b)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load32_splat (local.get $a)) (local.get $b0))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load32_splat (local.get $a1)) (local.get $b0))))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (v128.load32_splat (local.get $a2)) (local.get $b0))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (v128.load32_splat (local.get $a3)) (local.get $b0))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $a1 (i32.add (local.get $a1) (local.get $as1)))
          (local.set $a2 (i32.add (local.get $a2) (local.get $as1)))
          (local.set $a3 (i32.add (local.get $a3) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (call $store4 (local.get $c) (local.get $cs1) (local.get $s0))
    (call $store4 (local.get $c1) (local.get $cs1) (local.get $s1))
    (call $store4 (local.get $c2) (local.get $cs1) (local.get $s2))
    (call $store4 (local.get $c3) (local.get $cs1) (local.get $s3)))

  ;; 4 rows × 1 column, scalar
  (func $block4x1 (param $a i32) (param $as0 i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $cs0 i32) (param $k i32) (param $init i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $y f32) (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (local.set $c1 (i32.add (local.get $c) (local.get $cs0)))
    (local.set $c2 (i32.add (local.get $c1) (local.get $cs0)))
    (local.set $c3 (i32.add (local.get $c2) (local.get $cs0)))
    (if (local.get $init)
      (then
        (local.set $s0 (f32.load (local.get $c)))
        (local.set $s1 (f32.load (local.get $c1)))
        (local.set $s2 (f32.load (local.get $c2)))
        (local.set $s3 (f32.load (local.get $c3)))))
    (local.set $a1 (i32.add (local.get $a) (local.get $as0)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $as0)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $as0)))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $y (f32.load (local.get $b)))
          (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (local.get $a)) (local.get $y))))
          (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.load (local.get $a1)) (local.get $y))))
          (local.set $s2 (f32.add (local.get $s2) (f32.mul (f32.load (local.get $a2)) (local.get $y))))
          (local.set $s3 (f32.add (local.get $s3) (f32.mul (f32.load (local.get $a3)) (local.get $y))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $a1 (i32.add (local.get $a1) (local.get $as1)))
          (local.set $a2 (i32.add (local.get $a2) (local.get $as1)))
          (local.set $a3 (i32.add (local.get $a3) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (f32.store (local.get $c) (local.get $s0))
    (f32.store (local.get $c1) (local.get $s1))
    (f32.store (local.get $c2) (local.get $s2))
    (f32.store (local.get $c3) (local.get $s3)))

  ;; 1 row × 8 columns
  (func $block1x8 (param $a i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $cs1 i32) (param $k i32) (param $init i32)
    (local $x v128) (local $s0 v128) (local $s1 v128) (local $half i32)
    (local.set $half (i32.shl (local.get $cs1) (i32.const 2)))
    (if (local.get $init)
      (then
        (local.set $s0 (call $load4 (local.get $c) (local.get $cs1)))
        (local.set $s1 (call $load4 (i32.add (local.get $c) (local.get $half)) (local.get $cs1)))))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $x (v128.load32_splat (local.get $a)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (v128.load (local.get $b)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b)))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (call $store4 (local.get $c) (local.get $cs1) (local.get $s0))
    (call $store4 (i32.add (local.get $c) (local.get $half)) (local.get $cs1) (local.get $s1)))

  ;; 1 row × 4 columns
  (func $block1x4 (param $a i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $cs1 i32) (param $k i32) (param $init i32)
    (local $s0 v128)
    (if (local.get $init) (then (local.set $s0 (call $load4 (local.get $c) (local.get $cs1)))))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load32_splat (local.get $a)) (v128.load (local.get $b)))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (call $store4 (local.get $c) (local.get $cs1) (local.get $s0)))

  ;; 1 row × 1 column, scalar
  (func $block1x1 (param $a i32) (param $as1 i32) (param $b i32) (param $bs i32)
                  (param $c i32) (param $k i32) (param $init i32)
    (local $s f32)
    (if (local.get $init) (then (local.set $s (f32.load (local.get $c)))))
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $p
          (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
          (local.set $a (i32.add (local.get $a) (local.get $as1)))
          (local.set $b (i32.add (local.get $b) (local.get $bs)))
          (br_if $p (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (f32.store (local.get $c) (local.get $s)))

  ;; The product described at the top; a, b, c are byte addresses, strides are in elements.
  (func (export "matmul") (param $a i32) (param $as0 i32) (param $as1 i32) (param $b i32) (param $bs i32)
                          (param $c i32) (param $cs0 i32) (param $cs1 i32)
                          (param $n i32) (param $m i32) (param $k i32) (param $init i32)
    (local $i i32) (local $j i32) (local $pa i32) (local $pc i32)
    (local.set $as0 (i32.shl (local.get $as0) (i32.const 2)))
    (local.set $as1 (i32.shl (local.get $as1) (i32.const 2)))
    (local.set $bs (i32.shl (local.get $bs) (i32.const 2)))
    (local.set $cs0 (i32.shl (local.get $cs0) (i32.const 2)))
    (local.set $cs1 (i32.shl (local.get $cs1) (i32.const 2)))
    ;; blocks of 4 rows
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $as0))))
        (local.set $pc (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $cs0))))
        (local.set $j (i32.const 0))
        (block $d8
          (loop $c8
            (br_if $d8 (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $m)))
            (call $block4x8 (local.get $pa) (local.get $as0) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1))) (local.get $cs0) (local.get $cs1)
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $c8)))
        (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $m))
          (then
            (call $block4x4 (local.get $pa) (local.get $as0) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1))) (local.get $cs0) (local.get $cs1)
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
        (block $d1
          (loop $c1
            (br_if $d1 (i32.ge_s (local.get $j) (local.get $m)))
            (call $block4x1 (local.get $pa) (local.get $as0) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1))) (local.get $cs0)
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $c1)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows)))
    ;; remaining rows one at a time
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $as0))))
        (local.set $pc (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $cs0))))
        (local.set $j (i32.const 0))
        (block $e8
          (loop $t8
            (br_if $e8 (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $m)))
            (call $block1x8 (local.get $pa) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1))) (local.get $cs1)
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $t8)))
        (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $m))
          (then
            (call $block1x4 (local.get $pa) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1))) (local.get $cs1)
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
        (block $e1
          (loop $t1
            (br_if $e1 (i32.ge_s (local.get $j) (local.get $m)))
            (call $block1x1 (local.get $pa) (local.get $as1)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $bs)
              (i32.add (local.get $pc) (i32.mul (local.get $j) (local.get $cs1)))
              (local.get $k) (local.get $init))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $t1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))))
