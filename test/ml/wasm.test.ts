// The WebAssembly matmul kernels — the SIMD build and the scalar build used where SIMD is missing —
// against their TypeScript reference and each other, bit for bit, on random shapes (sizes off the
// 4- and 8-wide blocks, strided and transposed operands, accumulation) and random float32 values
// including denormals, huge values, infinities and signed zeros; how a build is chosen; and the
// committed module bytes against a fresh compile of their WAT sources.
import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { compileWat, KERNEL_BUILDS, wasmModuleSource, wasmPath } from '../../scripts/build-wasm.ts'
import { matmulReference } from '../../ml/model/kernels.ts'
import { chooseKernel, isSimdSupported, kernelKind, type KernelKind } from '../../ml/wasm/kernelModule.ts'
import { KernelWorkspace } from '../../ml/wasm/workspace.ts'
import { KERNELS_WASM_BASE64 } from '../../ml/wasm/kernels.wasm.ts'
import { KERNELS_SCALAR_WASM_BASE64 } from '../../ml/wasm/kernelsScalar.wasm.ts'

const MAX = 37
const SIMD_MISSING = isSimdSupported() ? false : 'this CPU or runtime has no WebAssembly SIMD'
const KINDS: readonly KernelKind[] = SIMD_MISSING === false ? ['simd', 'scalar'] : ['scalar']
const workspaces = new Map(KINDS.map((kernel) => [kernel, new KernelWorkspace((floats) => ({ a: floats(MAX * MAX), b: floats(MAX * MAX), c: floats(MAX * MAX) }), { kernel })]))

const value = fc.oneof(
  { weight: 6, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.float({ noNaN: true }) }, // denormals, huge values, ±Infinity, ±0
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38) },
)

/** The first index where the bits differ, unless both are NaN (WebAssembly leaves a NaN's payload unspecified); -1 if none. */
function firstDifference(x: Float32Array, y: Float32Array): number {
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length)
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length)
  for (let i = 0; i < x.length; i++) if (xi[i] !== yi[i] && !(Number.isNaN(x[i]!) && Number.isNaN(y[i]!))) return i
  return -1
}

t.test('each build equals matmulReference and the builds equal each other, bit for bit', async (t) => {
  const shape = fc.record({
    n: fc.integer({ min: 1, max: 23 }), m: fc.integer({ min: 1, max: 37 }), k: fc.integer({ min: 0, max: 33 }),
    transposeA: fc.boolean(), transposeC: fc.boolean(), accumulate: fc.boolean(), pad: fc.integer({ min: 0, max: 3 }),
    seed: fc.array(value, { minLength: MAX * MAX, maxLength: MAX * MAX }),
  })
  fc.assert(fc.property(shape, ({ n, m, k, transposeA, transposeC, accumulate, pad, seed }) => {
    // a is [n, k] (row stride k + pad) or read down the columns of [k, n]; c is [n, m] or [m, n]
    const [as0, as1] = transposeA ? [1, n + pad] : [k + pad, 1]
    const bs = m + pad
    const [cs0, cs1] = transposeC ? [1, n + pad] : [m + pad, 1]
    const a = Float32Array.from(seed)
    const b = Float32Array.from(seed, (_, i) => seed[(i * 7 + 3) % seed.length]!)
    const c = Float32Array.from(seed, (_, i) => seed[(i * 13 + 5) % seed.length]!)
    const expected = c.slice()
    matmulReference(a, as0, as1, b, bs, expected, cs0, cs1, n, m, k, accumulate)
    const results = KINDS.map((kernel) => {
      const workspace = workspaces.get(kernel)!
      const buffers = workspace.buffers
      buffers.a.set(a)
      buffers.b.set(b)
      buffers.c.set(c)
      workspace.matmul(buffers.a, as0, as1, buffers.b, bs, buffers.c, cs0, cs1, n, m, k, accumulate)
      return buffers.c
    })
    return results.every((result) => firstDifference(result, expected) === -1 && firstDifference(result, results[0]!) === -1)
  }), { numRuns: 400, seed: 7 })
  t.pass(`400 random products on ${KINDS.join(' and ')}`)
})

t.test('the builds agree on full-size blocks of ordinary values', async (t) => {
  const n = 36, m = 32, k = 37
  const a = Float32Array.from({ length: MAX * MAX }, (_, i) => Math.sin(i) * 3)
  const b = Float32Array.from({ length: MAX * MAX }, (_, i) => Math.cos(i * 1.3) / 7)
  const expected = new Float32Array(n * m)
  matmulReference(a, k, 1, b, m, expected, m, 1, n, m, k, false)
  for (const [kernel, workspace] of workspaces) {
    const buffers = workspace.buffers
    buffers.a.set(a)
    buffers.b.set(b)
    workspace.matmul(buffers.a, k, 1, buffers.b, m, buffers.c, m, 1, n, m, k, false)
    t.equal(firstDifference(buffers.c.subarray(0, n * m), expected), -1, kernel)
  }
})

t.test('operands outside the workspace or too short are refused', async (t) => {
  for (const [kernel, workspace] of workspaces) {
    const { a, b, c } = workspace.buffers
    t.throws(() => workspace.matmul(new Float32Array(4), 2, 1, b, 2, c, 2, 1, 2, 2, 2, false), { code: 'INVALID_ARGUMENT' }, kernel)
    t.throws(() => workspace.matmul(a.subarray(0, 3), 2, 1, b, 2, c, 2, 1, 2, 2, 2, false), { code: 'INVALID_ARGUMENT' }, kernel)
  }
})

t.test('chooseKernel: SIMD where supported unless forced, a typed error where it cannot be had', async (t) => {
  for (const request of [undefined, '', 'auto']) {
    t.equal(chooseKernel(request, true), 'simd', `${JSON.stringify(request)} with SIMD`)
    t.equal(chooseKernel(request, false), 'scalar', `${JSON.stringify(request)} without SIMD`)
  }
  t.equal(chooseKernel('scalar', true), 'scalar')
  t.equal(chooseKernel('scalar', false), 'scalar')
  t.equal(chooseKernel('simd', true), 'simd')
  t.throws(() => chooseKernel('simd', false), { name: 'MlError', code: 'WASM_SIMD_UNSUPPORTED', details: { name: 'OPENLEDGER_ML_KERNEL' } })
  for (const request of ['SIMD', 'sse', ' scalar']) t.throws(() => chooseKernel(request, true), { code: 'INVALID_ARGUMENT', details: { request } }, request)
})

t.test('this thread runs SIMD where the runtime accepts it, unless forced', async (t) => {
  const forced = process.env['OPENLEDGER_ML_KERNEL']
  t.equal(kernelKind(), chooseKernel(forced, isSimdSupported()))
  t.equal(new KernelWorkspace(() => undefined).kernel, kernelKind(), 'a workspace runs the thread\'s build by default')
})

t.test('committed module bytes equal a fresh compile of their WAT sources', async (t) => {
  const committed = { simd: KERNELS_WASM_BASE64, scalar: KERNELS_SCALAR_WASM_BASE64 }
  for (const [kernel, build] of Object.entries(KERNEL_BUILDS)) {
    const bytes = await compileWat(build, readFileSync(wasmPath(build.wat), 'utf8'))
    t.equal(Buffer.from(bytes).toString('base64'), committed[kernel as KernelKind], `${kernel}: bytes`)
    t.equal(wasmModuleSource(build, bytes), readFileSync(wasmPath(build.module), 'utf8'), `${kernel}: ${build.module}`)
  }
})

t.test('a SIMD instruction in the scalar source does not compile', async (t) => {
  const simdSource = readFileSync(wasmPath(KERNEL_BUILDS.simd.wat), 'utf8')
  await t.rejects(compileWat(KERNEL_BUILDS.scalar, simdSource), /v128/)
})
