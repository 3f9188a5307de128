// The engine's numeric kernels in plain TypeScript. The matrix product runs in WebAssembly
// (ml/wasm/kernels.wat with SIMD, or kernelsScalar.wat where SIMD is missing, via
// ml/wasm/workspace.ts); matmulReference here is their specification and the reference the
// property tests compare both with bit for bit.
//
// Numerics rule of every matrix product (engine version openledger-ml/2): each output element is
// its own float32 accumulator, started at 0 (or at the output's current value when accumulating),
// and for p = 0, 1, …, k−1 in ascending order acc = f32(acc + f32(a·b)) — the product rounded to
// float32, then the sum. Nothing is reassociated, so vectorising over output columns, blocking rows
// and columns, or splitting k into consecutive chunks stored in between changes no bit. (Double
// accumulation, the rule of openledger-ml/1, would halve the SIMD width for no accuracy the
// gradient checks or the ONNX comparison need.)

/**
 * c(i, j) = (accumulate ? c(i, j) : 0) + Σ_{p<k} a(i, p)·b(p, j) under the rule above, for i < n,
 * j < m, with a(i, p) = a[i·as0 + p·as1], b(p, j) = b[p·bs + j], c(i, j) = c[i·cs0 + j·cs1].
 */
export function matmulReference(a: Float32Array, as0: number, as1: number, b: Float32Array, bs: number, c: Float32Array, cs0: number, cs1: number, n: number, m: number, k: number, accumulate: boolean): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const o = i * cs0 + j * cs1
      let acc = accumulate ? c[o]! : 0
      // a float32 sum or product computed in a double and rounded once is the correctly rounded float32 result
      for (let p = 0; p < k; p++) acc = Math.fround(acc + Math.fround(a[i * as0 + p * as1]! * b[p * bs + j]!))
      c[o] = acc
    }
  }
}

/** dst [cols, rows] = srcᵀ for src [rows, cols]. */
export function transpose(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[base + c]!
  }
}

/** out[j] (+)= Σ_{i<n} x[i·m + j]: column sums of x [n, m] in ascending row order (bias gradients). */
export function columnSums(x: Float32Array, n: number, m: number, out: Float32Array, acc: Float64Array): void {
  for (let j = 0; j < m; j++) acc[j] = 0
  for (let i = 0; i < n; i++) {
    const base = i * m
    for (let j = 0; j < m; j++) acc[j] = acc[j]! + x[base + j]!
  }
  for (let j = 0; j < m; j++) out[j] = acc[j]!
}
