// Training is bit-exact across processes, thread counts and CPU models: scripts/train-job.ts (one
// fixed LoRA job through planJob + trainWithThreads, on the shipped LM base with Moby Dick chapters
// and on the spam classifier with hard-ham/spam messages) runs as separate processes with 1, 2 and
// 3 worker threads, then — when qemu-x86_64 is installed — as the same Node binary under an
// emulated Nehalem (SSE4.2, no AVX/AVX2/FMA). Every run must give the same weights hash, checkpoint
// root and final state hash as the first. Nothing here is a hard-coded expected value: the
// assertion is equality across runs, so a deliberate engine change moves all runs together.
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
// identical on every thread count and on both CPU models. Under -cpu core2duo (no SSE4.1) V8
// refuses WebAssembly SIMD ("Wasm SIMD unsupported") and training stops with WORKER_DIED, so only
// models with SSE4.1 or later are tried here.
import { execFile } from 'node:child_process'
import { accessSync, constants, openSync, readSync, closeSync, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import type { TrainJobReport } from '../../scripts/train-job.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SCRIPT = join(ROOT, 'scripts', 'train-job.ts')
/** the running Node binary, links resolved (node_modules/.bin/node → node_modules/node/bin/node) */
const NODE = realpathSync(process.execPath)
const NATIVE_TIMEOUT_MS = 120_000
/** V8's JIT under qemu's TCG translation is about ten times slower; the margin is for a busy machine */
const QEMU_TIMEOUT_MS = 600_000
/** older x86-64 models with SSE4.1/4.2 (V8's WASM SIMD needs SSE4.1) and no AVX, in order of preference */
const QEMU_CPUS = ['Nehalem', 'Westmere']

type Kind = 'lm' | 'classifier'
const KINDS: readonly Kind[] = ['lm', 'classifier']

t.setTimeout(20 * 60_000)

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

function isElf(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const magic = Buffer.alloc(4)
    readSync(fd, magic, 0, 4, 0)
    return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
  } finally {
    closeSync(fd)
  }
}

interface Qemu {
  binary: string
  cpu: string
}

/** qemu-x86_64 and a CPU model to run our Node binary under, or why that cannot be done here. */
async function findQemu(): Promise<Qemu | { skip: string }> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `qemu-x86_64 user mode needs an x86-64 Linux Node binary (this is ${process.platform}/${process.arch})` }
  if (!isElf(NODE)) return { skip: `${NODE} is not an ELF executable` }
  const binary = findOnPath('qemu-x86_64')
  if (binary === undefined) return { skip: 'qemu-x86_64 is not installed (apt-get install qemu-user)' }
  // qemu 7 prints the list and exits with status 1
  const stdout = await run(binary, ['-cpu', 'help']).then((out) => out.stdout, (error: { stdout?: string }) => error.stdout ?? '')
  const offered = new Set(stdout.split('\n').map((line) => line.trim().split(/\s+/)[1]))
  const cpu = QEMU_CPUS.find((model) => offered.has(model))
  if (cpu === undefined) return { skip: `${binary} offers none of ${QEMU_CPUS.join(', ')}` }
  return { binary, cpu }
}

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

const qemu = await findQemu()
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
