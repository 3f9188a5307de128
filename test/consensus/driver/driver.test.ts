// The consensus driver over an in-memory network and an in-memory chain: four drivers decide the
// same blocks; with gossip lossy, or lost altogether, the catch-up protocol still gets every height
// decided; a driver restarted from its WAL rejoins without signing anything twice; a driver whose
// clock is wrong cannot move the chain's time (proposer-based timestamps).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Clock } from '../../../consensus/clock.ts'
import { ConsensusDriver } from '../../../consensus/driver/driver.ts'
import { proposerIndex } from '../../../consensus/proposer.ts'
import type { TimelinessParams } from '../../../runtime/consensusParams.ts'
import type { BlockCandidate, ConsensusChain } from '../../../consensus/driver/ports.ts'
import type { CommitCertificate, SignedVote, ValidatorSet } from '../../../consensus/types.ts'
import { verifyCommit } from '../../../consensus/types.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { createConsensusNetwork } from '../../../node/consensus/consensusNetwork.ts'
import { ReqRespProtocol } from '../../../p2p/interface.ts'
import { MemoryNetworkHub, type HubEvent, type MemoryNetwork } from '../../../p2p/memoryNetwork.ts'
import { decode, encode } from '../../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../../runtime/codec/read.ts'
import { sha256, toHex } from '../../../runtime/crypto/hash.ts'
import { CHAIN_ID, committee, seededRandom, type Committee } from '../fixtures.ts'

/** Blocks are encode([height, proposer key, time]); valid when they extend the head with a later time. */
class MemoryChain implements ConsensusChain {
  readonly chainId = CHAIN_ID
  readonly committed: Array<{ hash: string; certificate: CommitCertificate; time: number }> = []
  readonly #times = new Map<string, number>()
  readonly #set: ValidatorSet

  constructor(set: ValidatorSet) {
    this.#set = set
  }

  headHeight(): number {
    return this.committed.length
  }

  validatorSet(): Promise<ValidatorSet> {
    return Promise.resolve(this.#set)
  }

  #parentTime(): number {
    return this.committed.at(-1)?.time ?? 0
  }

  buildBlock(height: number, proposerKey: Uint8Array, time: number): Promise<BlockCandidate> {
    const blockTime = Math.max(time, this.#parentTime() + 1)
    const bytes = encode([height, proposerKey, blockTime])
    this.#times.set(toHex(sha256(bytes)), blockTime)
    return Promise.resolve({ hash: sha256(bytes), height, time: blockTime, bytes })
  }

  validateBlock(bytes: Uint8Array): Promise<{ hash: Uint8Array; height: number; time: number; valid: boolean }> {
    const [height, proposer, time] = readArray(decode(bytes), 'block', 3)
    readBytes(proposer ?? null, 'block.proposer')
    const h = readUint(height ?? null, 'block.height')
    const blockTime = readUint(time ?? null, 'block.time')
    const hash = sha256(bytes)
    this.#times.set(toHex(hash), blockTime)
    return Promise.resolve({ hash, height: h, time: blockTime, valid: h === this.committed.length + 1 && blockTime > this.#parentTime() })
  }

  commitBlock(blockHash: Uint8Array, certificate: CommitCertificate): Promise<void> {
    this.committed.push({ hash: toHex(blockHash), certificate, time: this.#times.get(toHex(blockHash)) ?? 0 })
    return Promise.resolve()
  }

  reportEvidence(): void {}
}

/** A validator's clock: the machine's, shifted by `offsetMs` (which a test may change). */
class ShiftedClock implements Clock {
  offsetMs = 0
  now(): number {
    return Date.now() + this.offsetMs
  }
}

interface Validator {
  clock: ShiftedClock
  chain: MemoryChain
  network: MemoryNetwork
  driver: ConsensusDriver
  votes: SignedVote[]
}

/** missed reveals counted by the drivers of `network`, by validator label */
type MissedReveals = Map<string, number>

async function network(t: Test, c: Committee, hub: MemoryNetworkHub, missedReveals: MissedReveals = new Map()): Promise<{ validators: Validator[]; restart: (i: number) => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-driver-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const validators: Validator[] = []
  const make = (i: number, chain: MemoryChain, network: MemoryNetwork, votes: SignedVote[], clock: ShiftedClock): ConsensusDriver => {
    const driver = new ConsensusDriver(
      {
        walDir: join(dir, `v${i}`, 'wal'),
        signGuardPath: join(dir, `v${i}`, 'sign-state.json'),
        validatorKey: c.keys[i],
        timeouts: { proposeMs: 200, proposeDeltaMs: 100, prevoteMs: 100, prevoteDeltaMs: 100, precommitMs: 100, precommitDeltaMs: 100 },
        blockTimeMs: 20,
        catchUpIntervalMs: 100,
        observeVote: (vote) => votes.push(vote),
        timeliness: TIMELINESS,
      },
      {
        chain, network: createConsensusNetwork(network), clock, logger: silentLogger,
        metrics: { missedReveals: { inc: ({ validator }) => void missedReveals.set(validator, (missedReveals.get(validator) ?? 0) + 1) } },
      },
    )
    // block sync, as the node wires it (node/consensus/blockSync.ts): a driver that sees it fell
    // behind gets the certified blocks it missed from the best peer, then restarts at its new head
    driver.onBehind(() => {
      const best = validators.reduce((a, b) => (b.chain.headHeight() > a.chain.headHeight() ? b : a))
      for (let height = chain.headHeight() + 1; height <= best.chain.headHeight(); height++) chain.committed.push(best.chain.committed[height - 1] as MemoryChain['committed'][number])
      void driver.restartAtHead()
    })
    return driver
  }
  for (let i = 0; i < c.keys.length; i++) {
    const chain = new MemoryChain(c.set)
    const net = hub.createNode({ peerId: `v${i}` })
    const votes: SignedVote[] = []
    const clock = new ShiftedClock()
    validators.push({ clock, chain, network: net, votes, driver: make(i, chain, net, votes, clock) })
  }
  for (const v of validators) await v.network.start()
  let restarts = 0
  t.teardown(async () => {
    for (const v of validators) await v.driver.stop()
    for (const v of validators) await v.network.stop()
  })
  return {
    validators,
    async restart(i) {
      // a process restart: the same chain, WAL and sign guard; a fresh network endpoint
      const v = validators[i] as Validator
      await v.driver.stop()
      await v.network.stop()
      v.network = hub.createNode({ peerId: `v${i}-restart-${++restarts}` })
      await v.network.start()
      v.driver = make(i, v.chain, v.network, v.votes, v.clock)
      await v.driver.start()
    },
  }
}

async function untilHeight(validators: readonly Validator[], height: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (validators.some((v) => v.chain.headHeight() < height)) {
    if (Date.now() > deadline) throw new Error(`not at height ${height}: ${validators.map((v) => v.chain.headHeight()).join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function checkAgreement(t: Test, c: Committee, validators: readonly Validator[], upTo: number): void {
  for (let height = 1; height <= upTo; height++) {
    const hashes = new Set(validators.map((v) => v.chain.committed[height - 1]?.hash))
    if (hashes.size !== 1) t.fail(`height ${height}: ${[...hashes].join(' vs ')}`)
    for (const v of validators) {
      const entry = v.chain.committed[height - 1]
      if (entry === undefined) continue
      const check = verifyCommit(CHAIN_ID, c.set, entry.certificate, { height, blockHash: Buffer.from(entry.hash.slice(2), 'hex') })
      if (!check.ok) t.fail(`height ${height}: certificate does not verify: ${check.reason}`)
    }
  }
  t.pass(`all validators committed the same certified blocks at heights 1..${upTo}`)
}

function checkNoDoubleSigns(t: Test, validators: readonly Validator[]): void {
  const seen = new Map<string, string>()
  let conflicts = 0
  for (const v of validators) {
    for (const vote of v.votes) {
      const key = `${toHex(vote.validator)}/${vote.height}/${vote.round}/${vote.type}`
      const value = vote.blockHash === undefined ? 'nil' : toHex(vote.blockHash)
      const previous = seen.get(key)
      if (previous === undefined) seen.set(key, value)
      else if (previous !== value) conflicts++
    }
  }
  t.equal(conflicts, 0, 'no validator signed two different votes for one height/round/step')
}

const TIMELINESS: TimelinessParams = { precisionMs: 500, messageDelayMs: 1_000 }

const random = seededRandom(20261202)
const lossCases: Array<{ name: string; drop: ((event: HubEvent) => boolean) | undefined; heights: number }> = [
  { name: 'four drivers decide the same blocks', drop: undefined, heights: 5 },
  { name: 'with 30% of gossip lost, catch-up still decides every height', drop: (event) => event.kind === 'gossip' && random() < 0.3, heights: 5 },
  { name: 'with every gossip message lost, catch-up alone carries consensus', drop: (event) => event.kind === 'gossip', heights: 3 },
]
for (const { name, drop, heights } of lossCases) {
  t.test(name, async (t) => {
    const c = committee([1n, 1n, 1n, 1n])
    const hub = new MemoryNetworkHub()
    hub.setDropFilter(drop)
    const { validators } = await network(t, c, hub)
    await Promise.all(validators.map((v) => v.driver.start()))
    await untilHeight(validators, heights)
    checkAgreement(t, c, validators, heights)
    checkNoDoubleSigns(t, validators)
  })
}

t.test('a validator that never proposes: its missed reveals are counted under its key, heights still decided', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const missed: MissedReveals = new Map()
  const { validators } = await network(t, c, new MemoryNetworkHub(), missed)
  // validator 0 is down: its rounds as proposer time out and the next round's proposer decides
  await Promise.all(validators.slice(1).map((v) => v.driver.start()))
  await untilHeight(validators.slice(1), 6)
  const silent = toHex((c.keys[0] as { publicKey: Uint8Array }).publicKey).slice(0, 18)
  t.ok((missed.get(silent) ?? 0) > 0, `the silent validator's missed reveals counted: ${JSON.stringify(Object.fromEntries(missed))}`)
})

t.test('a catch-up answer leaves out the proposals of the rounds the asker holds', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const hub = new MemoryNetworkHub()
  const { validators } = await network(t, c, hub)
  await Promise.all(validators.map((v) => v.driver.start()))
  await untilHeight(validators, 3)
  for (const v of validators) await v.driver.stop()
  const asker = hub.createNode({ peerId: 'asker' })
  await asker.start()
  t.teardown(() => asker.stop())
  const served = validators[0] as Validator
  const height = served.chain.headHeight()
  const answer = async (request: unknown[]) => {
    const [proposals, votes] = readArray(decode(await asker.request('v0', ReqRespProtocol.consensusMessages, encode(request as never))), 'answer', 2)
    return { proposals: readArray(proposals ?? null, 'proposals').length, votes: readArray(votes ?? null, 'votes').length }
  }
  const all = await answer([height])
  t.ok(all.proposals >= 1 && all.votes >= 3, `[height] gets the proposal and the votes (${all.proposals}, ${all.votes})`)
  const rounds = Array.from({ length: 16 }, (_, round) => round)
  t.same(await answer([height, rounds]), { proposals: 0, votes: all.votes }, 'the proposals of held rounds are left out, the votes are not')
  t.same(await answer([height, [5]]), all, 'a round the height never had changes nothing')
  for (const bad of [[height, Array.from({ length: 17 }, (_, round) => round)], [height, [-1]], [height, 'x'], [height, [0], 1], []]) {
    await t.rejects(asker.request('v0', ReqRespProtocol.consensusMessages, encode(bad as never)), { code: 'INVALID_REQUEST' }, `refused: ${JSON.stringify(bad)}`)
  }
})

t.test('a driver restarted from its WAL mid-height rejoins and signs nothing twice', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const { validators, restart } = await network(t, c, new MemoryNetworkHub())
  await Promise.all(validators.map((v) => v.driver.start()))
  for (let i = 0; i < 4; i++) {
    await untilHeight(validators, 2 + i * 2)
    await restart(i % 4)
  }
  await untilHeight(validators, 10)
  checkAgreement(t, c, validators, 10)
  checkNoDoubleSigns(t, validators)
})

// Proposer-based timestamps over real drivers: each validator's clock is a ShiftedClock.
for (const offsetMs of [30_000, 1_500 * 86_400_000, -30_000]) {
  t.test(`one validator of four with its clock ${offsetMs} ms off cannot move chain time; the others keep deciding`, async (t) => {
    const c = committee([1n, 1n, 1n, 1n])
    const { validators } = await network(t, c, new MemoryNetworkHub())
    const skewed = 1
    ;(validators[skewed] as Validator).clock.offsetMs = offsetMs
    const startedAt = Date.now()
    await Promise.all(validators.map((v) => v.driver.start()))
    const heights = 8
    await untilHeight(validators, heights)
    const now = Date.now()
    checkAgreement(t, c, validators, heights)
    checkNoDoubleSigns(t, validators)
    const chain = (validators[0] as Validator).chain
    let led = 0
    for (const [i, block] of chain.committed.slice(0, heights).entries()) {
      const height = i + 1
      // honest clocks are the machine's: a block is at most `precision` ahead of them, and not older
      // than the start of the run less precision and message delay
      if (block.time > now + TIMELINESS.precisionMs || block.time < startedAt - TIMELINESS.precisionMs - TIMELINESS.messageDelayMs) {
        t.fail(`height ${height}: time ${block.time} is outside the honest clocks (${block.time - now} ms from now)`)
      }
      if (proposerIndex(c.set, height, 0) === skewed) {
        led++
        // a block from the future is refused: the height is decided in a later round, by another proposer
        if (offsetMs > 0) t.ok(block.certificate.round >= 1, `height ${height}: the skewed proposer's round 0 failed over (decided in round ${block.certificate.round})`)
      }
    }
    t.ok(led > 0, `the skewed validator led round 0 of ${led} of the ${heights} heights`)
    t.pass(`every block's time is within the honest clocks ± the precision (head: ${(chain.committed[heights - 1]?.time ?? 0) - now} ms from now)`)
  })
}

t.test('with two of four clocks wrong nothing is decided, without any double sign; it resumes when they agree again', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const { validators } = await network(t, c, new MemoryNetworkHub())
  ;(validators[1] as Validator).clock.offsetMs = 30_000
  ;(validators[2] as Validator).clock.offsetMs = -30_000
  await Promise.all(validators.map((v) => v.driver.start()))
  // three rounds everywhere without a decision: each proposal is timely for at most two validators
  await waitUntil(() => validators.every((v) => v.driver.state().round >= 3), 'round 3 everywhere')
  t.same(validators.map((v) => v.chain.headHeight()), [0, 0, 0, 0], 'no height decided while half the power disagrees on the time')
  checkNoDoubleSigns(t, validators)
  for (const v of validators) v.clock.offsetMs = 0
  await untilHeight(validators, 3)
  checkAgreement(t, c, validators, 3)
  checkNoDoubleSigns(t, validators)
})

async function waitUntil(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
