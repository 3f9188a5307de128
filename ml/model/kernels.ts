// The engine's numeric kernels. Every output element is a sum of float32×float32 products (exact
// in a double) accumulated in a double in ascending index order, then rounded to float32 once on
// store: whatever the blocking, the bits depend only on the inputs. Blocking (4 rows × 2 columns)
// keeps eight independent accumulators in registers; nothing allocates.

/**
 * out[i·m + j] = Σ_{p<k} a[i·k + p]·b[j·k + p] — A·Bᵀ with A [n, k] and B [m, k] both row-major,
 * so both operands are read along contiguous rows. With `accumulate` the sum is added to out.
 */
export function matmulBt(a: Float32Array, b: Float32Array, out: Float32Array, n: number, m: number, k: number, accumulate: boolean): void {
  let i = 0
  for (; i + 3 < n; i += 4) {
    const a0 = i * k
    const a1 = a0 + k
    const a2 = a1 + k
    const a3 = a2 + k
    let j = 0
    for (; j + 1 < m; j += 2) {
      const b0 = j * k
      const b1 = b0 + k
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0
      for (let p = 0; p < k; p++) {
        const y0 = b[b0 + p]!
        const y1 = b[b1 + p]!
        const x0 = a[a0 + p]!
        const x1 = a[a1 + p]!
        const x2 = a[a2 + p]!
        const x3 = a[a3 + p]!
        s00 += x0 * y0; s01 += x0 * y1
        s10 += x1 * y0; s11 += x1 * y1
        s20 += x2 * y0; s21 += x2 * y1
        s30 += x3 * y0; s31 += x3 * y1
      }
      const o = i * m + j
      if (accumulate) {
        out[o] = out[o]! + s00; out[o + 1] = out[o + 1]! + s01
        out[o + m] = out[o + m]! + s10; out[o + m + 1] = out[o + m + 1]! + s11
        out[o + 2 * m] = out[o + 2 * m]! + s20; out[o + 2 * m + 1] = out[o + 2 * m + 1]! + s21
        out[o + 3 * m] = out[o + 3 * m]! + s30; out[o + 3 * m + 1] = out[o + 3 * m + 1]! + s31
      } else {
        out[o] = s00; out[o + 1] = s01
        out[o + m] = s10; out[o + m + 1] = s11
        out[o + 2 * m] = s20; out[o + 2 * m + 1] = s21
        out[o + 3 * m] = s30; out[o + 3 * m + 1] = s31
      }
    }
    for (; j < m; j++) {
      for (let r = 0; r < 4; r++) dotInto(a, (i + r) * k, b, j * k, k, out, (i + r) * m + j, accumulate)
    }
  }
  for (; i < n; i++) {
    for (let j = 0; j < m; j++) dotInto(a, i * k, b, j * k, k, out, i * m + j, accumulate)
  }
}

function dotInto(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, k: number, out: Float32Array, o: number, accumulate: boolean): void {
  let s = 0
  for (let p = 0; p < k; p++) s += a[aOffset + p]! * b[bOffset + p]!
  if (accumulate) out[o] = out[o]! + s
  else out[o] = s
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
