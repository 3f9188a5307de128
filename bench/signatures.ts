// Signature throughput: what a node can check per second. Per core, single-threaded: secp256k1
// recovery (account transactions) with pure-JS noble and the native libsecp256k1 binding, ed25519
// verification (consensus votes) with noble and node:crypto, each against the noble figure of the
// same run; then the WorkerPoolVerifier on every core against 2x the single-core native figure.
// Run alone: node bench/signatures.ts [--quick]
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { ed25519Sign, ed25519Verify, generateEd25519FromSeed, type Ed25519Backend } from '../runtime/crypto/ed25519.ts'
import { keccak256, sha256, utf8 } from '../runtime/crypto/hash.ts'
import { recoverAddress, signDigest, type Secp256k1Backend } from '../runtime/crypto/secp256k1.ts'
import { WorkerPoolVerifier, type SignedDigest } from '../node/workers/signatureVerifier.ts'

export interface SignatureBenchOptions {
  log: (line: string) => void
  /** Shorter runs (under 8 s in all) for CI smoke checks. */
  quick?: boolean
}

export interface SignatureBenchResult {
  secp256k1NativePerCore: number
  secp256k1PoolPerSecond: number
  /** CPU seconds (all threads) per recovery through the pool: unlike the rate, hardly moved by other load */
  secp256k1PoolCpuPerRecovery: number
}

const SAMPLES = 256
const POOL_BATCH = 256

/** Calls `op` round-robin over `count` inputs for about `ms` milliseconds; returns ops per second. */
function opsPerSecond(count: number, ms: number, op: (index: number) => boolean): number {
  const warmUpEnd = performance.now() + Math.min(150, ms / 5)
  let i = 0
  while (performance.now() < warmUpEnd) if (!op(i++ % count)) throw new Error('benchmark input failed to verify')
  let done = 0
  const start = performance.now()
  const end = start + ms
  let now = start
  while (now < end) {
    for (let k = 0; k < 16; k++) if (!op(done++ % count)) throw new Error('benchmark input failed to verify')
    now = performance.now()
  }
  return (done * 1000) / (now - start)
}

function secp256k1Inputs(): SignedDigest[] {
  return Array.from({ length: SAMPLES }, (_, i) => {
    const privateKey = sha256(utf8(`bench account ${i % 64}`))
    const digest = keccak256(utf8(`bench transaction ${i}`))
    return { digest, signature: signDigest(privateKey, digest) }
  })
}

function ed25519Inputs(): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[] {
  // a validator set of 32 keys voting on different blocks
  const validators = Array.from({ length: 32 }, (_, i) => generateEd25519FromSeed(sha256(utf8(`bench validator ${i}`))))
  return Array.from({ length: SAMPLES }, (_, i) => {
    const validator = validators[i % validators.length] as (typeof validators)[number]
    const message = sha256(utf8(`bench vote ${i}`))
    return { publicKey: validator.publicKey, message, signature: ed25519Sign(validator.secretKey, message) }
  })
}

async function poolRecoversPerSecond(items: SignedDigest[], ms: number): Promise<{ perSecond: number; threads: number; cpuPerRecovery: number }> {
  const pool = new WorkerPoolVerifier({ batchSize: POOL_BATCH })
  pool.start()
  try {
    const batch = items.slice(0, POOL_BATCH)
    const check = (results: (Uint8Array | undefined)[]): void => {
      if (results.some((address) => address === undefined)) throw new Error('the worker pool failed to recover a benchmark signature')
    }
    // warm up every worker (module loading, JIT) before timing
    for (let i = 0; i < 3; i++) check((await Promise.all(Array.from({ length: pool.threads * 2 }, () => pool.recoverSigners(batch)))).flat())
    let done = 0
    const cpuBefore = process.cpuUsage() // this process: the workers and the dispatching thread
    const start = performance.now()
    const end = start + ms
    // keep two batches per worker in flight so no worker waits on the main thread
    const lane = async (): Promise<void> => {
      while (performance.now() < end) {
        check(await pool.recoverSigners(batch))
        done += batch.length
      }
    }
    await Promise.all(Array.from({ length: pool.threads * 2 }, lane))
    const cpu = process.cpuUsage(cpuBefore)
    return { perSecond: (done * 1000) / (performance.now() - start), threads: pool.threads, cpuPerRecovery: (cpu.user + cpu.system) / 1e6 / done }
  } finally {
    await pool.stop()
  }
}

export async function benchSignatures(options: SignatureBenchOptions): Promise<SignatureBenchResult> {
  const { log } = options
  const ms = options.quick === true ? 700 : 2500
  const secp = secp256k1Inputs()
  const ed = ed25519Inputs()

  const recover = (backend: Secp256k1Backend) => opsPerSecond(secp.length, ms, (i) => {
    const item = secp[i] as SignedDigest
    return recoverAddress(item.digest, item.signature, backend) !== undefined
  })
  const verify = (backend: Ed25519Backend) => opsPerSecond(ed.length, ms, (i) => {
    const item = ed[i] as (typeof ed)[number]
    return ed25519Verify(item.publicKey, item.message, item.signature, backend)
  })

  const format = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US').padStart(9)
  const line = (what: string, perSecond: number, ratio: number, reference: string) =>
    log(`  ${what.padEnd(38)} ${format(perSecond)} /s  ${ratio.toFixed(2).padStart(6)}x ${reference}`)

  log('signatures, one core, single thread')
  const secpNoble = recover('noble')
  line('secp256k1 recover, noble (pure JS)', secpNoble, 1, 'noble')
  const secpNative = recover('native')
  line('secp256k1 recover, libsecp256k1 (native)', secpNative, secpNative / secpNoble, 'noble')
  const edNoble = verify('noble')
  line('ed25519 verify, noble (pure JS)', edNoble, 1, 'noble')
  const edNative = verify('native')
  line('ed25519 verify, node:crypto (OpenSSL)', edNative, edNative / edNoble, 'noble')

  const pool = await poolRecoversPerSecond(secp, options.quick === true ? 1500 : 4000)
  log(`signatures, WorkerPoolVerifier (${pool.threads} threads of ${availableParallelism()} cores, batches of ${POOL_BATCH})`)
  line('secp256k1 recover, native, all threads', pool.perSecond, pool.perSecond / (2 * secpNative), '2x native single core')
  log(`  CPU per recovery through the pool (all threads): ${(pool.cpuPerRecovery * 1e6).toFixed(1)} µs`)
  return { secp256k1NativePerCore: secpNative, secp256k1PoolPerSecond: pool.perSecond, secp256k1PoolCpuPerRecovery: pool.cpuPerRecovery }
}

if (import.meta.main) {
  await benchSignatures({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
}
