// Training is bit-exact across processes, thread counts and CPU models: scripts/train-job.ts (one
// fixed LoRA job through planJob + trainWithThreads, on the shipped LM base with Moby Dick chapters
// and on the spam classifier with hard-ham/spam messages) runs as separate processes with 1, 2 and
// 3 worker threads, then — when qemu-x86_64 is installed — as the same Node binary under an
// emulated Nehalem (SSE4.2, no AVX/AVX2/FMA) and an emulated Core 2 Duo (no SSE4.1, so V8 refuses
// WebAssembly SIMD and the engine picks its scalar kernel, ml/wasm/kernelModule.ts). Every run
// must give the same weights hash, checkpoint root and final state hash as the first. Nothing here
// is a hard-coded expected value: the assertion is equality across runs, so a deliberate engine
// change moves all runs together.
//
// Measured at 726a323 (ENGINE_VERSION openledger-ml/2: WebAssembly SIMD kernels for the matrix and
// attention products), Node v24.21.0; host: os.cpus() "AMD EPYC", CPUID "Oxide Virtual Turin-like
// Processor" with SSE4.2, AVX, FMA, AVX2, AVX-512F; emulated: qemu-x86_64 7.2.22 -cpu Nehalem, CPUID
// "Intel Core i7 9xx (Nehalem Class Core i7)", SSE4.2, no AVX/FMA/AVX2 (os.cpus() reads
// /proc/cpuinfo, so under qemu user mode it still names the host):
//   ol-lm-sotu-2m  weights 0x6c2d59248055810ef37685f30696a959a84965e79ea9509f5d8b5b6324d3ae00
//                  root    0x7795d42a71a60bc290afc32fd86d43798779ae1c584e99202f2401f27a588112
//                  final   0x9a9d2a59de71c1c2e1abad2edad475bfce89ef8c024023cf9b52a9cc6589ed35
//                  ~2.5 s natively (1, 2, 3 threads), ~23 s under qemu
//   ol-spam-cls    weights 0xcce6ffa43cdac0afc9cf995b6d881791a714a813994af2a3a9f3ea8707f767e2
//                  root    0x7f558ca825d206faf53423cfb531ad5acd6edf95028c63d2cc512f90954d99f3
//                  final   0xc0c6ed87deba609824db62b869cb627167172fcbb9873bfd44454820e927b270
//                  ~3.2 s natively, ~15 s under qemu
// identical on every thread count and on both CPU models. Under -cpu core2duo (no SSE4.1;
// qemu-x86_64 7.2, Node v24.21.0) V8 refuses the SIMD module ("Wasm SIMD unsupported"): the LM job,
// on two worker threads running the scalar kernel, gives the hashes above in ~23 s. (Before the
// scalar kernel, training there stopped with WORKER_DIED.)
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { TrainJobReport } from '../../scripts/train-job.ts'
import { findQemu, NODE, run, type Qemu } from './qemu.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SCRIPT = join(ROOT, 'scripts', 'train-job.ts')
const NATIVE_TIMEOUT_MS = 120_000
/** V8's JIT under qemu's TCG translation is about ten times slower; the margin is for a busy machine */
const QEMU_TIMEOUT_MS = 600_000
/** older x86-64 models with SSE4.1/4.2 (V8's WASM SIMD needs SSE4.1) and no AVX, in order of preference */
const QEMU_CPUS = ['Nehalem', 'Westmere']
/** models without SSE4.1, where V8 refuses WebAssembly SIMD and the engine runs its scalar kernel */
const QEMU_NO_SIMD_CPUS = ['core2duo', 'Conroe']

type Kind = 'lm' | 'classifier'
const KINDS: readonly Kind[] = ['lm', 'classifier']

t.setTimeout(20 * 60_000)

async function trainJobProcess(kind: Kind, threads: number, qemu?: Qemu): Promise<TrainJobReport> {
  const args = [SCRIPT, '--threads', String(threads), ...(kind === 'classifier' ? ['--classifier'] : [])]
  const [command, argv] = qemu === undefined ? [NODE, args] : [qemu.binary, ['-cpu', qemu.cpu, NODE, ...args]]
  const { stdout } = await run(command, argv, { cwd: ROOT, timeout: qemu === undefined ? NATIVE_TIMEOUT_MS : QEMU_TIMEOUT_MS, maxBuffer: 1 << 20 })
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as TrainJobReport
}

const HASH = /^0x[0-9a-f]{64}$/
const hashesOf = (report: TrainJobReport) => ({ weightsHash: report.weightsHash, checkpointRoot: report.checkpointRoot, finalHash: report.finalHash })
const describe = (report: TrainJobReport) => `${report.model}, ${report.threads} thread(s), ${report.seconds} s, ${report.cpu}, Node ${report.node}`

/** the 1-thread native run of each kind, the reference every other run is compared with */
const reference = new Map<Kind, TrainJobReport>()
async function referenceOf(kind: Kind): Promise<TrainJobReport> {
  let report = reference.get(kind)
  if (report === undefined) {
    report = await trainJobProcess(kind, 1)
    reference.set(kind, report)
  }
  return report
}

t.test('separate processes on 1, 2 and 3 threads train to the same bits', async (t) => {
  for (const kind of KINDS) {
    const first = await referenceOf(kind)
    t.comment(describe(first))
    t.match(hashesOf(first), { weightsHash: HASH, checkpointRoot: HASH, finalHash: HASH }, `${kind}: hashes are 32 bytes of hex`)
    t.equal(first.node, process.version, `${kind}: the child ran this Node`)
    for (const threads of [2, 3]) {
      const report = await trainJobProcess(kind, threads)
      t.comment(describe(report))
      t.equal(report.threads, threads, `${kind}: the child used ${threads} threads`)
      t.same(hashesOf(report), hashesOf(first), `${kind}: ${threads} threads give the weights hash, checkpoint root and final hash of 1 thread`)
    }
  }
  t.not(reference.get('lm')?.weightsHash, reference.get('classifier')?.weightsHash, 'the two jobs are different jobs')
})

const qemu = await findQemu(QEMU_CPUS)
const qemuCpu = 'cpu' in qemu ? qemu.cpu : 'Nehalem'
t.test(`the same binary under qemu-x86_64 -cpu ${qemuCpu} (no AVX/AVX2/FMA) trains to the host's bits`, { skip: 'skip' in qemu ? qemu.skip : false }, async (t) => {
  if ('skip' in qemu) return
  t.comment(`${qemu.binary} -cpu ${qemu.cpu} ${NODE}`)
  // the LM on one worker thread, the classifier on two: threads inside the emulator as well
  for (const [kind, threads] of [['lm', 1], ['classifier', 2]] as const) {
    const native = await referenceOf(kind)
    const emulated = await trainJobProcess(kind, threads, qemu)
    t.comment(describe(emulated))
    t.equal(emulated.node, native.node, `${kind}: the same Node binary`)
    t.same(hashesOf(emulated), hashesOf(native), `${kind}: weights hash, checkpoint root and final hash equal the host's`)
  }
})

const noSimd = await findQemu(QEMU_NO_SIMD_CPUS)
const noSimdCpu = 'cpu' in noSimd ? noSimd.cpu : 'core2duo'
t.test(`under qemu-x86_64 -cpu ${noSimdCpu} (no SSE4.1, so no WebAssembly SIMD) the scalar kernel trains to the host's bits`, { skip: 'skip' in noSimd ? noSimd.skip : false }, async (t) => {
  if ('skip' in noSimd) return
  t.comment(`${noSimd.binary} -cpu ${noSimd.cpu} ${NODE}`)
  // two worker threads, each choosing its kernel by itself
  const native = await referenceOf('lm')
  const emulated = await trainJobProcess('lm', 2, noSimd)
  t.comment(describe(emulated))
  t.same(hashesOf(emulated), hashesOf(native), 'lm: weights hash, checkpoint root and final hash equal the host\'s')
})
