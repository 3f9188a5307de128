// The WebAssembly matmul kernel against its TypeScript reference, bit for bit, on random shapes
// (sizes off the 4- and 8-wide blocks, strided and transposed operands, accumulation) and random
// float32 values including denormals, huge values, infinities and signed zeros; and the committed
// module bytes against a fresh compile of ml/wasm/kernels.wat.
import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { compileWat, WAT_PATH, wasmModuleSource } from '../../scripts/build-wasm.ts'
import { matmulReference } from '../../ml/model/kernels.ts'
import { KernelWorkspace } from '../../ml/wasm/workspace.ts'
import { KERNELS_WASM_BASE64 } from '../../ml/wasm/kernels.wasm.ts'

const MAX = 37
const workspace = new KernelWorkspace((floats) => ({ a: floats(MAX * MAX), b: floats(MAX * MAX), c: floats(MAX * MAX) }))
const { a, b, c } = workspace.buffers

const value = fc.oneof(
  { weight: 6, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.float({ noNaN: true }) }, // denormals, huge values, ±Infinity, ±0
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38) },
)

/** Same bits, or both NaN (WebAssembly leaves a NaN's payload unspecified). */
function sameBits(x: Float32Array, y: Float32Array): number {
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length)
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length)
  for (let i = 0; i < x.length; i++) if (xi[i] !== yi[i] && !(Number.isNaN(x[i]!) && Number.isNaN(y[i]!))) return i
  return -1
}

t.test('wasm matmul equals matmulReference bit for bit', async (t) => {
  const shape = fc.record({
    n: fc.integer({ min: 1, max: 13 }), m: fc.integer({ min: 1, max: 21 }), k: fc.integer({ min: 0, max: 17 }),
    transposeA: fc.boolean(), transposeC: fc.boolean(), accumulate: fc.boolean(), pad: fc.integer({ min: 0, max: 3 }),
    seed: fc.array(value, { minLength: MAX * MAX, maxLength: MAX * MAX }),
  })
  fc.assert(fc.property(shape, ({ n, m, k, transposeA, transposeC, accumulate, pad, seed }) => {
    // a is [n, k] (row stride k + pad) or read down the columns of [k, n]; c is [n, m] or [m, n]
    const [as0, as1] = transposeA ? [1, n + pad] : [k + pad, 1]
    const bs = m + pad
    const [cs0, cs1] = transposeC ? [1, n + pad] : [m + pad, 1]
    for (let i = 0; i < a.length; i++) {
      a[i] = seed[i]!
      b[i] = seed[(i * 7 + 3) % seed.length]!
      c[i] = seed[(i * 13 + 5) % seed.length]!
    }
    const expected = c.slice()
    matmulReference(a, as0, as1, b, bs, expected, cs0, cs1, n, m, k, accumulate)
    workspace.matmul(a, as0, as1, b, bs, c, cs0, cs1, n, m, k, accumulate)
    return sameBits(c, expected) === -1
  }), { numRuns: 400, seed: 7 })
  t.pass('400 random products')
})

t.test('wasm matmul on full-size blocks of ordinary values', async (t) => {
  const n = 36, m = 32, k = 37
  for (let i = 0; i < a.length; i++) {
    a[i] = Math.sin(i) * 3
    b[i] = Math.cos(i * 1.3) / 7
  }
  const expected = new Float32Array(c.length)
  matmulReference(a, k, 1, b, m, expected, m, 1, n, m, k, false)
  workspace.matmul(a, k, 1, b, m, c, m, 1, n, m, k, false)
  t.equal(sameBits(c.subarray(0, n * m), expected.subarray(0, n * m)), -1)
})

t.test('operands outside the workspace or too short are refused', async (t) => {
  t.throws(() => workspace.matmul(new Float32Array(4), 2, 1, b, 2, c, 2, 1, 2, 2, 2, false), { code: 'INVALID_ARGUMENT' })
  t.throws(() => workspace.matmul(a.subarray(0, 3), 2, 1, b, 2, c, 2, 1, 2, 2, 2, false), { code: 'INVALID_ARGUMENT' })
})

t.test('committed module bytes equal a fresh compile of kernels.wat', async (t) => {
  const bytes = await compileWat(readFileSync(WAT_PATH, 'utf8'))
  t.equal(Buffer.from(bytes).toString('base64'), KERNELS_WASM_BASE64)
  t.equal(wasmModuleSource(bytes), readFileSync(new URL('../../ml/wasm/kernels.wasm.ts', import.meta.url), 'utf8'))
})
