// The signature pool started and stopped CYCLES times at random moments of its threads' life, in a
// process of its own (stopStress.test.ts runs it): a plain `node` as the node itself runs, so its
// threads load without the test runner's module hooks (which tap's --import flags put in every
// thread and which made each thread's start-up ~3x slower), and a V8 abort ends this process with
// its own exit status and output. Prints one JSON line: the counts and the timing.
//
//   node test/node/workers/poolStopLoop.ts CYCLES [SEED]
//
// A stop lands at random in [0, 1.5 × S), S the median of the last RECENT_CYCLES cycles' own
// figures (when the call was answered, or else when the stop returned: a stop waits for the
// threads to be ready): so the moments cover loading, ready, batches in flight and idle threads
// whatever the machine's load does meanwhile, instead of scaling every cycle by one measurement.
import { WorkerPoolVerifier, type SignedDigest } from '../../../node/workers/signatureVerifier.ts'
import { keccak256 } from '../../../runtime/crypto/hash.ts'
import { privateKeyToAddress, signDigest } from '../../../runtime/crypto/secp256k1.ts'
import { seededRandom } from '../../consensus/fixtures.ts'

/** cycles whose figures make the current scale */
const RECENT_CYCLES = 9

/** The median of the last `size` figures: one slow or fast cycle does not move it. */
class RecentMedian {
  readonly #size: number
  readonly #values: number[] = []

  constructor(size: number) {
    this.#size = size
  }

  add(value: number): void {
    this.#values.push(value)
    if (this.#values.length > this.#size) this.#values.shift()
  }

  value(): number | undefined {
    if (this.#values.length === 0) return undefined
    const sorted = [...this.#values].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)]
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const cycles = Number(process.argv[2])
const random = seededRandom(Number(process.argv[3] ?? 26))
if (!Number.isInteger(cycles) || cycles < 1) throw new Error('usage: poolStopLoop.ts CYCLES [SEED]')

const key = new Uint8Array(32).fill(7)
const items: SignedDigest[] = Array.from({ length: 64 }, (_, i) => {
  const digest = keccak256(Uint8Array.of(i))
  return { digest, signature: signDigest(key, digest) }
})
const signer = Buffer.from(privateKeyToAddress(key))

const began = performance.now()
const lifetimes = new RecentMedian(RECENT_CYCLES)
let answered = 0
let stopped = 0
let idleStops = 0
for (let cycle = 0; cycle < cycles; cycle++) {
  const pool = new WorkerPoolVerifier({ threads: 2, batchSize: 32 })
  const cycleBegan = performance.now()
  let answeredAfter: number | undefined
  pool.start()
  const outcome = pool.recoverSigners(items).then(
    (signers) => {
      if (!signers.every((address) => address !== undefined && signer.equals(address))) throw new Error(`cycle ${cycle}: wrong signers`)
      answeredAfter = performance.now() - cycleBegan
      answered++
    },
    (error: { code?: string }) => {
      if (error.code !== 'STOPPED') throw error
      stopped++
    },
  )
  // the first cycle has no figure yet: it stops once answered (idle threads)
  const scale = lifetimes.value()
  if (scale === undefined) await outcome
  else await sleep(random() * scale * 1.5)
  if (answeredAfter !== undefined) idleStops++
  await pool.stop()
  await outcome
  lifetimes.add(answeredAfter ?? performance.now() - cycleBegan)
}
const ms = performance.now() - began
process.stdout.write(`${JSON.stringify({ cycles, answered, stopped, idleStops, ms: Math.round(ms), msPerCycle: Math.round(ms / cycles), scaleMs: Math.round(lifetimes.value() ?? 0) })}\n`)
