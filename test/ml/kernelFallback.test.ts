// The scalar kernel in a whole training run: the golden job (goldenJob.ts) in a child process with
// OPENLEDGER_ML_KERNEL=scalar must print golden.test.ts's hashes; a bad setting fails with its code.
// When qemu-x86_64 is installed, the same Node binary under a CPU model without SSE4.1 (V8 then
// refuses WebAssembly SIMD) must pick the scalar kernel by itself and print the golden hashes, and
// forcing SIMD there must fail with WASM_SIMD_UNSUPPORTED rather than crash.
//
// Measured with qemu-x86_64 7.2 -cpu core2duo, Node v24.21.0: Node starts, WebAssembly.validate of
// the SIMD module is false, the scalar kernel is chosen and the golden job takes ~5 s.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { KERNEL_ENV } from '../../ml/index.ts'
import { GOLDEN, type GoldenJobReport } from './goldenJob.ts'
import { findQemu, NODE, run, type Qemu } from './qemu.ts'

const SCRIPT = fileURLToPath(new URL('./goldenJob.ts', import.meta.url))
const NATIVE_TIMEOUT_MS = 60_000
/** ~5 s under qemu on an idle machine; the margin is for a busy one */
const QEMU_TIMEOUT_MS = 300_000
/** x86-64 models without SSE4.1, in order of preference */
const NO_SIMD_CPUS = ['core2duo', 'Conroe']

t.setTimeout(10 * 60_000)

/** The golden job in a child process with KERNEL_ENV set to `kernel` (unset if undefined); a failure's report is read too. */
async function goldenJob(kernel: string | undefined, qemu?: Qemu): Promise<GoldenJobReport> {
  const env = { ...process.env }
  if (kernel === undefined) delete env[KERNEL_ENV]
  else env[KERNEL_ENV] = kernel
  const [command, argv] = qemu === undefined ? [NODE, [SCRIPT]] : [qemu.binary, ['-cpu', qemu.cpu, NODE, SCRIPT]]
  const stdout = await run(command, argv, { env, timeout: qemu === undefined ? NATIVE_TIMEOUT_MS : QEMU_TIMEOUT_MS }).then(
    (out) => out.stdout,
    (error: { stdout?: string; code?: number }) => {
      if (error.code !== 1 || error.stdout === undefined) throw error
      return error.stdout
    },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as GoldenJobReport
}

t.test(`${KERNEL_ENV}=scalar: the golden job gives the golden hashes`, async (t) => {
  t.same(await goldenJob('scalar'), { kernel: 'scalar', hashes: GOLDEN })
})

t.test(`${KERNEL_ENV} set to an unknown build fails with INVALID_ARGUMENT`, async (t) => {
  t.match(await goldenJob('avx2'), { error: 'INVALID_ARGUMENT', message: new RegExp(KERNEL_ENV) })
})

const qemu = await findQemu(NO_SIMD_CPUS)
const cpu = 'cpu' in qemu ? qemu.cpu : NO_SIMD_CPUS[0]
t.test(`under qemu-x86_64 -cpu ${cpu} (no SSE4.1, so no WebAssembly SIMD)`, { skip: 'skip' in qemu ? qemu.skip : false }, async (t) => {
  if ('skip' in qemu) return
  t.comment(`${qemu.binary} -cpu ${qemu.cpu} ${NODE}`)
  t.same(await goldenJob(undefined, qemu), { kernel: 'scalar', hashes: GOLDEN }, 'the scalar kernel is chosen by itself and gives the golden hashes')
  t.match(await goldenJob('simd', qemu), { error: 'WASM_SIMD_UNSUPPORTED', message: /SSE4\.1/ }, `${KERNEL_ENV}=simd fails with a typed error`)
})
