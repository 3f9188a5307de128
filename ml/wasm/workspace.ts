// The WebAssembly side of the engine: a workspace per engine, one instance of the thread's kernel
// build (kernelModule.ts: SIMD, or scalar where SIMD is missing, the same bits either way) with its
// own memory, sized once, holding every float32 buffer the kernels read or write. The memory never
// grows after the buffers are laid out, so their views stay valid for the workspace's life.
import { MlError } from '../errors.ts'
import { instantiateKernels, kernelKind, type KernelExports, type KernelKind } from './kernelModule.ts'

const PAGE_BYTES = 65536
/** Buffers start on 16-byte boundaries (v128 loads). */
const ALIGN_FLOATS = 4

/** Hands out float32 buffers; a workspace calls it twice (to size its memory, then for real). */
export type FloatAllocator = (length: number) => Float32Array

export class KernelWorkspace<T> {
  /** what the layout function returned: the buffers, all inside this workspace's memory */
  readonly buffers: T
  /** the kernel build this workspace runs */
  readonly kernel: KernelKind
  readonly #exports: KernelExports
  readonly #memory: ArrayBuffer

  /**
   * Lays out the buffers `layout` asks for in a fresh instance's memory. `kernel` overrides the
   * thread's build (kernelKind()), for tests that compare the two.
   */
  constructor(layout: (floats: FloatAllocator) => T, options: { kernel?: KernelKind } = {}) {
    let total = 0
    layout((length) => {
      total += Math.ceil(length / ALIGN_FLOATS) * ALIGN_FLOATS
      return new Float32Array(0)
    })
    this.kernel = options.kernel ?? kernelKind()
    this.#exports = instantiateKernels(this.kernel)
    const memory = this.#exports.memory
    const needed = Math.ceil((total * 4) / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES
    if (needed > 0) memory.grow(needed)
    this.#memory = memory.buffer
    let next = 0
    this.buffers = layout((length) => {
      const view = new Float32Array(this.#memory, next * 4, length)
      next += Math.ceil(length / ALIGN_FLOATS) * ALIGN_FLOATS
      return view
    })
  }

  /**
   * c(i, j) = (accumulate ? c(i, j) : 0) + Σ_{p<k} a(i, p)·b(p, j) for i < n, j < m, accumulated in
   * float32 in ascending p with each product rounded first (see kernels.wat), where a(i, p) =
   * a[i·as0 + p·as1], b(p, j) = b[p·bs + j] and c(i, j) = c[i·cs0 + j·cs1]. All three arrays must be
   * this workspace's buffers; c must not overlap a or b. Bit-identical to matmulReference.
   */
  matmul(a: Float32Array, as0: number, as1: number, b: Float32Array, bs: number, c: Float32Array, cs0: number, cs1: number, n: number, m: number, k: number, accumulate: boolean): void {
    if (n === 0 || m === 0) return
    this.#check(a, 'a', (n - 1) * as0 + (k - 1) * as1, k)
    this.#check(b, 'b', (k - 1) * bs + m - 1, k)
    this.#check(c, 'c', (n - 1) * cs0 + (m - 1) * cs1, 1)
    this.#exports.matmul(a.byteOffset, as0, as1, b.byteOffset, bs, c.byteOffset, cs0, cs1, n, m, k, accumulate ? 1 : 0)
  }

  #check(array: Float32Array, name: string, last: number, k: number): void {
    if (array.buffer !== this.#memory) throw new MlError('INVALID_ARGUMENT', `matmul operand ${name} is not a workspace buffer`, { details: { name } })
    if (k > 0 && (last >= array.length || last < 0)) throw new MlError('INVALID_ARGUMENT', `matmul operand ${name} is too short for its shape`, { details: { name, length: array.length, last } })
  }
}
