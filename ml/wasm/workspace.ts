// The WebAssembly side of the engine: the kernels module (ml/wasm/kernels.wat, committed as bytes in
// kernels.wasm.ts) compiled once per thread, and a workspace per engine: one instance with its own
// memory, sized once, holding every float32 buffer the kernels read or write. The memory never grows
// after the buffers are laid out, so their views stay valid for the workspace's life.
import { MlError } from '../errors.ts'
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts'

// The project's TS libs (no DOM) carry no WebAssembly types: the little used here, declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { readonly exports: unknown }
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

interface KernelExports {
  memory: WasmMemory
  matmul: (a: number, as0: number, as1: number, b: number, bs: number, c: number, cs0: number, cs1: number, n: number, m: number, k: number, init: number) => void
}

const PAGE_BYTES = 65536
/** Buffers start on 16-byte boundaries (v128 loads). */
const ALIGN_FLOATS = 4

let compiled: object | undefined

function kernelsModule(): object {
  compiled ??= new wasm.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'))
  return compiled
}

/** Hands out float32 buffers; a workspace calls it twice (to size its memory, then for real). */
export type FloatAllocator = (length: number) => Float32Array

export class KernelWorkspace<T> {
  /** what the layout function returned: the buffers, all inside this workspace's memory */
  readonly buffers: T
  readonly #exports: KernelExports
  readonly #memory: ArrayBuffer

  /** Lays out the buffers `layout` asks for in a fresh instance's memory. */
  constructor(layout: (floats: FloatAllocator) => T) {
    let total = 0
    layout((length) => {
      total += Math.ceil(length / ALIGN_FLOATS) * ALIGN_FLOATS
      return new Float32Array(0)
    })
    const instance = new wasm.Instance(kernelsModule(), {})
    this.#exports = instance.exports as unknown as KernelExports
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
