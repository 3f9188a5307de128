// Which build of the matrix kernel a thread runs, and its compiled module (once per thread per
// build). Two builds give the same bits: kernels.wat with 128-bit WebAssembly SIMD, and
// kernelsScalar.wat, the same float32 multiplications and additions one lane at a time, for CPUs and
// runtimes without WebAssembly SIMD (V8 on x86-64 needs SSE4.1 for it). SIMD is used wherever
// WebAssembly.validate accepts its module.
//
// OPENLEDGER_ML_KERNEL forces a build: `simd` or `scalar` (unset, empty or `auto`: choose as above).
// It is for tests and measurements: the choice changes speed only. It is read once per thread, when
// the first workspace is made; worker threads inherit it from the process environment.
import { MlError } from '../errors.ts'
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts'
import { KERNELS_SCALAR_WASM_BASE64 } from './kernelsScalar.wasm.ts'

/** A build of the matrix kernel: WebAssembly 128-bit SIMD, or the same arithmetic without SIMD. */
export type KernelKind = 'simd' | 'scalar'

/** The environment variable that forces a kernel build: `simd`, `scalar` or `auto` (the default). */
export const KERNEL_ENV = 'OPENLEDGER_ML_KERNEL'

// The project's TS libs (no DOM) carry no WebAssembly types: the little used here, declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { readonly exports: unknown }
  validate(bytes: Uint8Array): boolean
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

/** What an instance of either build exports (see the header of kernels.wat). */
export interface KernelExports {
  memory: WasmMemory
  matmul: (a: number, as0: number, as1: number, b: number, bs: number, c: number, cs0: number, cs1: number, n: number, m: number, k: number, init: number) => void
}

const BASE64: Readonly<Record<KernelKind, string>> = { simd: KERNELS_WASM_BASE64, scalar: KERNELS_SCALAR_WASM_BASE64 }

/**
 * The build to run for a request (KERNEL_ENV's value, or a kind asked for directly) on a runtime
 * that does or does not accept WebAssembly SIMD. Throws MlError WASM_SIMD_UNSUPPORTED when SIMD is
 * forced where it cannot run, INVALID_ARGUMENT for a request it does not know.
 */
export function chooseKernel(request: string | undefined, simdSupported: boolean): KernelKind {
  switch (request) {
    case undefined:
    case '':
    case 'auto':
      return simdSupported ? 'simd' : 'scalar'
    case 'scalar':
      return 'scalar'
    case 'simd':
      if (!simdSupported) {
        const message = `the SIMD kernel was forced (${KERNEL_ENV}=simd), but this CPU or runtime has no WebAssembly SIMD (V8 on x86-64 needs SSE4.1)`
        throw new MlError('WASM_SIMD_UNSUPPORTED', message, { details: { name: KERNEL_ENV } })
      }
      return 'simd'
    default:
      throw new MlError('INVALID_ARGUMENT', `${KERNEL_ENV} must be simd, scalar or auto`, { details: { name: KERNEL_ENV, request } })
  }
}

let simdSupported: boolean | undefined
let threadKernel: KernelKind | undefined
const compiled = new Map<KernelKind, object>()

/** Whether this runtime accepts the SIMD build (validation only: nothing is compiled). */
export function isSimdSupported(): boolean {
  simdSupported ??= wasm.validate(Buffer.from(BASE64.simd, 'base64'))
  return simdSupported
}

/**
 * The build this thread's engines run: SIMD where supported, else scalar, unless KERNEL_ENV forces
 * one. Fixed at the first call. Throws MlError as chooseKernel does, so a node that logs it at start
 * reports a bad setting before any job.
 */
export function kernelKind(): KernelKind {
  threadKernel ??= chooseKernel(process.env[KERNEL_ENV], isSimdSupported())
  return threadKernel
}

/** A fresh instance of a build (compiled on first use), with its own memory. */
export function instantiateKernels(kind: KernelKind): KernelExports {
  let module = compiled.get(kind)
  if (module === undefined) {
    module = new wasm.Module(Buffer.from(BASE64[chooseKernel(kind, isSimdSupported())], 'base64'))
    compiled.set(kind, module)
  }
  return new wasm.Instance(module, {}).exports as KernelExports
}
