// ModelFactory across a 4-validator network of real processes. A datanet is seeded from real Moby
// Dick chapters through the CLI; a LoRA job on the shipped language model is trained by one
// validator and re-executed by two others to the same hashes, published, and its adapter fetched
// from a node that did not train it decodes to the recorded weights hash. Then a trainer is
// killed (-9) after its assignment: at the train deadline the job moves to another validator and
// is published; the killed node restarts (attesting wrong hashes from then on) and catches up.
// Finally jobs are created until that faulty node is a verifier of one: it attests a wrong hash,
// a dispute opens, it is slashed and the job is still published with the honest hashes.
// Last, Proof of Attribution on the same network (every receipt re-checked: sample 10,000
// bps): paid inferences on a published adapter, each output quoting one chapter, until one
// draws node3 (started to write wrong attribution receipts) as attributor. Every receipt is
// recomputed by the drawn verifiers to the same hash; the lying one loses its re-check, its author
// is slashed and excluded, an honest attributor's receipt is final, and the quoted chapter's
// contributor accrues exactly the payouts.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { adapterShapes } from '../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../ml/model/params.ts'
import { downloadBlob, uploadBlob } from '../../node/blobs/blobClient.ts'
import { fromHex, keccak256, sha256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { found, ROOT, runCli, waitFor } from './harness.ts'
import { createTestnet, headHeight, nodeKeys, waitForHeight, type TestnetNode } from './testnet.ts'
import { launchChromium } from './browser.ts'
import { trustingPeriodMs } from '../../consensus/lightClient.ts'
import { eventData, TxBatch } from '../../cli/txBatch.ts'
import type { AttributionView, EventView, JobDetailView, ModelVersionView, ReceiptView } from '../../node/rpc/contract.ts'

/**
 * blocks (of ~0.5 s) a trainer has to submit, short enough to wait out when a trainer is killed.
 * The first (cold) tiny job takes about 18 blocks on an idle 2-core machine, but its trainer and
 * both verifiers compute it at once, beside the rest of the suite: it was seen to take 40–80
 * blocks there, and a missed deadline reassigns the job until too few validators are left for
 * two verifiers. 120 leaves room for that.
 */
const TRAIN_BLOCKS = 120
/**
 * blocks the verifiers and arbiters have to attest: never reached unless a worker is down. A cold
 * verifier's re-execution takes ~18 blocks on an idle machine and was seen near 60 while the rest of
 * the test suite ran beside it (a verifier then missed it and the version had one verifier).
 */
const VERIFY_BLOCKS = 120
/** jobs created at most while waiting for one that assigns the faulty node as a verifier (each does with probability 1/2) */
const MAX_FAULT_JOBS = 20
const FEE = '1000000000000000000'
/** rounds of four paid inferences at most while waiting for one whose drawn attributor is the lying node (each is with probability 1/4) */
const MAX_ATTRIBUTION_ROUNDS = 6
const OPEN = 10n ** 18n
// a trainer killed in the second subtest is only replaced at its deadline (TRAIN_BLOCKS)
t.setTimeout(14 * 60_000)
const BOB = toHex(devAccount('bob').address)
const SCREENSHOTS = join(ROOT, '.tap', 'screenshots', 'explorer')


const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

t.test('ModelFactory on four validators: verified training, a replaced trainer, a slashed verifier', async (t) => {
  // every attribution receipt re-checked, so the lying attributor of the last test is caught whenever it is drawn
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, audit: false, trainBlocks: TRAIN_BLOCKS, verifyBlocks: VERIFY_BLOCKS, attributionSampleRateBps: 10_000, startTimeoutMs: 240_000 })
  t.teardown(net.remove)
  const nodes = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  const operators = await Promise.all(nodes.map(async (node) => (await nodeKeys(node)).operator))
  const nodeOf = (operator: string): TestnetNode => nodes[operators.findIndex((o) => same(o, operator))] as TestnetNode
  const operatorOf = (node: TestnetNode): string => operators[nodes.indexOf(node)] as string
  const running = () => nodes.filter((node) => node.running !== undefined)
  const threads = ['--training-threads', '1']
  // node3 writes wrong attribution receipts throughout (TEST ONLY), restarts included
  const liarNode = nodes[3]
  const argsOf = (node: TestnetNode): string[] => (node === liarNode ? [...threads, '--test-attribution-fault', 'wrong-receipt'] : threads)
  await Promise.all(nodes.map((node) => net.start(node, argsOf(node))))
  await waitForHeight(nodes, 2)

  const seeded = await runCli(['datanet', 'seed', '--corpus', 'moby', '--limit', '9', '--contributors', '3', '--rpc', nodes[0].rpcUrl])
  t.equal(seeded.code, 0, 'datanet seeded from Moby Dick' + (seeded.code === 0 ? '' : `: ${seeded.stdout}${seeded.stderr}`))
  t.match(seeded.stdout, /published version 1 of datanet #1/, 'version 1 of datanet 1 published')

  const base = await nodes[1].rpc.call('openledger_getBaseModel', [1])
  t.equal(base?.name, 'ol-lm-sotu-2m', 'base model 1 is the shipped language model')

  /** createJob through the CLI (tiny hyperparameters); the job id and its first assignment, once drawn */
  let seed = 7
  const createJob = async (node: TestnetNode): Promise<{ id: number; trainer: string; verifiers: string[] }> => {
    const hyper = { rank: 4, alpha: 8, steps: 6, batchSize: 4, length: 32, learningRateMicro: 2000, seed: seed++, checkpointEvery: 2 }
    const args = JSON.stringify({ base: 1, datanets: [{ datanet: 1, version: 1 }], hyper, fee: FEE })
    const sent = await runCli(['tx', 'call', 'models', 'createJob', '--from', 'bob', '--json', '--rpc', node.rpcUrl, '--args', args])
    if (sent.code !== 0) throw new Error(`createJob failed: ${sent.stdout}${sent.stderr}`)
    const receipt = JSON.parse(sent.stdout.trim().split('\n').at(-1) ?? '') as ReceiptView
    const created = eventData(receipt, 'models', 'JobCreated')
    if (created === undefined) throw new Error(`no JobCreated in ${sent.stdout}`)
    const id = Number(created['job'])
    // the workers are drawn RANDOMNESS_LOOKAHEAD blocks after the job's block
    for (;;) {
      const job = await readJob(node, id)
      if (job !== null && job.status !== 'assigning') return { id, trainer: job.trainer, verifiers: job.verifiers }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  const readJob = (node: TestnetNode, id: number): Promise<JobDetailView | null> => node.rpc.call('openledger_getTrainingJob', [id])
  const getJob = async (node: TestnetNode, id: number): Promise<JobDetailView> => {
    const job = await readJob(node, id)
    if (job === null) throw new Error(`${node.name} knows no job ${id}`)
    return job
  }
  // A job created through another node is unknown to `node` until it imports that block (a node
  // that was just restarted may be a block or two behind): these wait for it instead of failing.
  const knownJob = (node: TestnetNode, id: number): Promise<JobDetailView> =>
    waitFor(async () => (await readJob(node, id)) ?? undefined, `${node.name} to know job ${id}`, 60_000, 100)
  const waitClosed = (node: TestnetNode, id: number, timeoutMs = 150_000): Promise<JobDetailView> =>
    waitFor(async () => {
      const job = await readJob(node, id)
      return job !== null && (job.status === 'published' || job.status === 'refunded') ? job : undefined
    }, `job ${id} closed on ${node.name}`, timeoutMs, 250)
  /**
   * the module's events (default models) of blocks from..to: in the receipts of their transactions (what the calls
   * emitted) and the blocks' own (the deadline hook's: assignments, and disputes, which open
   * RANDOMNESS_LOOKAHEAD blocks after the reveal that triggers them)
   */
  const modelEvents = async (node: TestnetNode, from: number, to: number, module = 'models'): Promise<EventView[]> => {
    const out: EventView[] = []
    for (let height = from; height <= to; height++) {
      const hash = await node.rpc.call('chain_getBlockHash', [height])
      const block = await node.rpc.call('chain_getBlock', [hash])
      for (const extrinsic of block?.block.extrinsics ?? []) {
        const receipt = await node.rpc.call('openledger_getReceipt', [toHex(sha256(fromHex(extrinsic) ?? new Uint8Array()))])
        out.push(...(receipt?.events ?? []).filter((e) => e.module === module))
      }
      out.push(...((await node.rpc.call('openledger_getBlockEvents', [height]))?.events ?? []).filter((e) => e.module === 'models'))
    }
    return out
  }
  /** every running node reports the same published model version */
  const sameVersionEverywhere = async (version: number): Promise<ModelVersionView[]> => {
    await waitFor(async () => {
      const views = await Promise.all(running().map((node) => node.rpc.call('openledger_getModelVersion', [version])))
      return views.every((v) => v !== null) ? true : undefined
    }, `model version ${version} on every node`, 30_000, 250)
    return Promise.all(running().map(async (node) => found(await node.rpc.call('openledger_getModelVersion', [version]), `model version ${version}`)))
  }

  await t.test('an adapter trained on the Moby Dick datanet is re-executed by two validators to the same hashes and published', async (t) => {
    const created = await createJob(nodes[0])
    t.equal(created.verifiers.length, 2, 'a trainer and two verifiers assigned')
    const job = await waitClosed(nodes[2], created.id)
    t.equal(job.status, 'published', `job ${created.id} published`)
    const result = job.result
    if (result === null || result === undefined || job.modelVersion === null || job.modelVersion === undefined) { t.fail('the published job has a result and a model version'); return }
    t.comment(`job ${job.id}: created at #${job.createdHeight}, result at #${result.submittedHeight}, published at #${job.closedHeight} (train deadline ${TRAIN_BLOCKS} blocks)`)
    const versions = await sameVersionEverywhere(job.modelVersion)
    const version = versions[0] as ModelVersionView
    t.same(versions.map((v) => v.weightsHash), versions.map(() => result.weightsHash), 'every node reports the model version with the result\'s weights hash')
    t.same(versions.map((v) => JSON.stringify(v)), versions.map(() => JSON.stringify(version)), 'and the same record')
    t.same(version.lineage.datanets.map((d) => [d.datanet, d.version]), [[1, 1]], 'its lineage names the seeded datanet version')
    t.ok(version.verifiers.length >= 2, `${version.verifiers.length} verifiers on the published version`)
    for (const verifier of version.verifiers) {
      const attestation = job.attestations.find((a) => same(a.worker, verifier))
      t.equal(attestation?.weightsHash, result.weightsHash, `${nodeOf(verifier).name} re-executed to the trainer's weights hash`)
      t.equal(attestation?.checkpointRoot, result.checkpointRoot, `${nodeOf(verifier).name} re-executed to the trainer's checkpoint root`)
      t.not(verifier.toLowerCase(), job.trainer.toLowerCase(), 'a verifier is not the trainer')
    }

    // the adapter from a node that did not train it (it fetched and pinned it from its peers)
    const other = nodes.find((node) => !same(operatorOf(node), job.trainer)) as TestnetNode
    await waitFor(async () => (await other.rpc.call('openledger_getBlobInfo', [version.adapter])) ?? undefined, `the adapter on ${other.name}`, 30_000, 250)
    const bytes = await downloadBlob(other.rpc, version.adapter)
    if (base === null) { t.fail('base model 1 registered'); return }
    const shapes = adapterShapes(found(base.config, 'the base model\'s architecture'), { rank: version.hyper.rank, alpha: version.hyper.alpha })
    t.equal(toHex(tensorsHash(shapes, decodeTensors(bytes, shapes))), version.weightsHash, `the adapter downloaded from ${other.name} (${bytes.length} bytes) decodes to the weights hash`)
  })


  let faulty: TestnetNode | undefined
  await t.test('a trainer killed after its assignment is replaced at the deadline; it restarts and catches up', async (t) => {
    const created = await createJob(nodes[1])
    const trainer = nodeOf(created.trainer)
    await net.kill(trainer, 'SIGKILL')
    t.pass(`${trainer.name}, the trainer of job ${created.id}, killed -9`)
    const witness = nodes.find((node) => node !== trainer) as TestnetNode
    t.equal((await knownJob(witness, created.id)).result ?? null, null, 'it had not submitted a result')
    const reassigned = await waitFor(async () => {
      const job = await getJob(witness, created.id)
      return job.attempt >= 2 || job.status !== 'training' ? job : undefined
    }, `job ${created.id} reassigned`, 150_000, 250)
    t.equal(reassigned.attempt, 2, 'the training was reassigned: attempt 2')
    t.ok(!same(reassigned.trainer, created.trainer), `to another trainer (${nodeOf(reassigned.trainer).name})`)
    t.ok(reassigned.excluded.some((o) => same(o, created.trainer)), 'the killed trainer is excluded from the job')
    const job = await waitClosed(witness, created.id)
    t.equal(job.status, 'published', `job ${created.id} published after the reassignment`)
    t.ok(job.modelVersion !== null && job.modelVersion !== undefined && same((await sameVersionEverywhere(job.modelVersion))[0]?.trainer ?? '', reassigned.trainer), 'the version names the second trainer')

    // the killed node comes back (from now on attesting wrong hashes, for the next test) and catches up
    faulty = trainer
    await net.start(trainer, [...argsOf(trainer), '--test-model-fault', 'wrong-attestation'])
    const height = Math.max(...(await Promise.all(nodes.filter((n) => n !== trainer).map(headHeight))))
    await waitForHeight(nodes, height, 60_000)
    const hashes = await Promise.all(nodes.map((node) => node.rpc.call('chain_getBlockHash', [height])))
    t.same(hashes, nodes.map(() => hashes[0]), `${trainer.name} caught up: the same block ${height} on all four nodes`)
  })

  await t.test('a verifier attesting a wrong hash is slashed; the job is published with the honest hashes', async (t) => {
    if (faulty === undefined) { t.fail('the previous test chose the faulty node'); return }
    const wrong = faulty
    const wrongOperator = operatorOf(wrong)
    const stakeBefore = (found(await nodes[0].rpc.call('openledger_getValidator', [wrongOperator]), 'the validator')).tokens
    const honest = nodes.filter((node) => node !== wrong)
    let created: { id: number; trainer: string; verifiers: string[] } | undefined
    for (let n = 0; n < MAX_FAULT_JOBS && created === undefined; n++) {
      const next = await createJob(honest[n % honest.length] as TestnetNode)
      if (next.verifiers.some((v) => same(v, wrongOperator))) created = next
      else await waitClosed(nodes[0], next.id) // one job at a time: no queueing behind the deadlines
    }
    if (created === undefined) { t.fail(`none of ${MAX_FAULT_JOBS} jobs assigned ${wrong.name} as a verifier`); return }
    t.pass(`job ${created.id} assigned ${wrong.name} (which attests wrong hashes) as a verifier`)
    const job = await waitClosed(nodes[0], created.id)
    t.equal(job.status, 'published', `job ${created.id} still published`)
    const result = job.result
    if (result === null || result === undefined || job.modelVersion === null || job.modelVersion === undefined) { t.fail('the published job has a result and a model version'); return }
    const bad = job.attestations.find((a) => same(a.worker, wrongOperator))
    t.ok(bad !== undefined && bad.weightsHash !== result.weightsHash, `${wrong.name} attested a wrong weights hash`)
    const events = await modelEvents(nodes[0], job.createdHeight, job.closedHeight)
    t.ok(events.some((e) => e.event === 'DisputeOpened' && Number(e.data?.['job']) === created.id), 'a dispute opened')
    t.ok(events.some((e) => e.event === 'DisputeResolved' && Number(e.data?.['job']) === created.id && e.data?.['trainerWon'] === true), 'the trainer\'s result won it')
    const slashed = events.find((e) => e.event === 'WorkerSlashed' && Number(e.data?.['job']) === created.id)
    t.ok(slashed !== undefined && same(String(slashed.data?.['worker']), wrongOperator), `${wrong.name}'s operator got WorkerSlashed`)
    t.equal(events.filter((e) => e.event === 'WorkerSlashed' && Number(e.data?.['job']) === created.id).length, 1, 'nobody else was slashed')
    const stakeAfter = (found(await nodes[0].rpc.call('openledger_getValidator', [wrongOperator]), 'the validator')).tokens
    t.ok(BigInt(stakeAfter) < BigInt(stakeBefore), `its stake dropped: ${stakeBefore} → ${stakeAfter}`)

    const version = (await sameVersionEverywhere(job.modelVersion))[0] as ModelVersionView
    t.equal(version.weightsHash, result.weightsHash, 'the version holds the trainer\'s (honest) weights hash')
    t.notOk(version.verifiers.some((v) => same(v, wrongOperator)), 'the faulty verifier is not among the version\'s verifiers')
    t.ok(version.verifiers.length >= 1, `${version.verifiers.length} honest attester(s) on the version`)
    for (const verifier of version.verifiers) t.equal(job.attestations.find((a) => same(a.worker, verifier))?.weightsHash, result.weightsHash, `${nodeOf(verifier).name} attested the honest hash`)
    const owned = await nodes[0].rpc.call('openledger_listTrainingJobs', [null, null, BOB])
    t.ok(owned.every((j) => j.status === 'published'), `every one of bob's ${owned.length} jobs was published`)
  })
  await t.test('attribution on four validators: every receipt re-checked to the same bytes; a lying attributor caught, slashed and replaced; the quoted contributor paid', async (t) => {
    // any adapter published on the datanet (the first test's, or a later one's if that one was slow)
    const adapter = (await nodes[0].rpc.call('openledger_listModelVersions', [null, 100]))[0]?.id
    if (adapter === undefined) { t.fail('an adapter was published'); return }
    const faulty = liarNode
    const liar = operatorOf(faulty)
    const node = nodes.find((n) => n !== faulty) as TestnetNode
    const runtime = createRuntime()
    const batch = new TxBatch(node.rpc, runtime)
    const [charlie, dave] = [devAccount('charlie'), devAccount('dave')]
    const ok = async (hashes: string[]) => {
      const receipts = await batch.wait(hashes)
      for (const receipt of receipts) if (receipt.status !== 'success') throw new Error(`transaction failed: ${receipt.error ?? ''}`)
      return receipts
    }
    // the quoted chapter: the datanet version's second contribution
    const contributions = await node.rpc.call('openledger_listVersionContributions', [1, 1])
    const quoted = found(contributions[1], 'a second contribution')
    const chapter = (JSON.parse(new TextDecoder().decode(await downloadBlob(node.rpc, quoted.cid)).split('\n')[0] as string) as { text: string }).text
    const quote = chapter.split(/\s+/).filter((w) => w !== '').slice(20, 60).join(' ')
    // charlie is the provider; the test answers for it: the output uploaded to a node, fulfil on chain
    await ok([await batch.submit(charlie, 'inference', 'registerProvider', { bond: (1_000n * OPEN).toString(), endpoint: 'http://127.0.0.1:9', priceIn: (OPEN / 100n).toString(), priceOut: (OPEN / 100n).toString(), models: [1], capacity: 16 })])
    const stakeBefore = BigInt(found(await node.rpc.call('openledger_getValidator', [liar]), 'the liar\'s validator').tokens)
    const rewardsBefore = BigInt((await node.rpc.call('openledger_getRewards', [quoted.contributor])).accrued)
    const records: number[] = []
    const firstAttributor = new Map<number, string>()
    let caught: number | undefined
    for (let round = 0; round < MAX_ATTRIBUTION_ROUNDS && caught === undefined; round++) {
      // one at a time: the batch numbers each submission from the pool's next nonce
      const requests: string[] = []
      for (const i of [0, 1, 2, 3]) {
        requests.push(await batch.submit(dave, 'inference', 'request', {
          provider: toHex(charlie.address), base: 1, adapters: [{ id: adapter, weightMilli: 1000 }], prompt: `Call me ${round}.${i}`, promptTokens: 4, maxTokens: 24,
          sampling: { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }, escrow: OPEN.toString(),
        }))
      }
      const requested = await ok(requests)
      const fulfils: string[] = []
      for (const [i, receipt] of requested.entries()) {
        const output = utf8(`Answer ${round}.${i}: ${quote}`)
        const { cid } = await uploadBlob(node.rpc, output)
        fulfils.push(await batch.submit(charlie, 'inference', 'fulfil', { request: Number(eventData(receipt, 'inference', 'RequestCreated')?.['request']), outputHash: toHex(keccak256(output)), outputCid: cid, inputTokens: 4, outputTokens: 24 }))
      }
      const ids = (await ok(fulfils)).map((receipt) => Number(eventData(receipt, 'inference', 'InferenceRecorded')?.['record']))
      records.push(...ids)
      // each attributor is drawn RANDOMNESS_LOOKAHEAD blocks after its record
      for (const id of ids) {
        const entry = await waitFor(async () => (await node.rpc.call('openledger_getAttribution', [id])) ?? undefined, `record ${id} assigned`, 60_000, 250)
        // the first attempt's attributor (a lost check reassigns within RANDOMNESS_LOOKAHEAD + the check's blocks: far later)
        if (entry.attempt === 1) firstAttributor.set(id, entry.attributor)
        if (caught === undefined && same(entry.attributor, liar)) caught = id
      }
    }
    if (caught === undefined) { t.fail(`none of ${records.length} records drew ${faulty.name} as attributor`); return }
    t.pass(`record ${caught} drew ${faulty.name} (which writes wrong receipts) as attributor, after ${records.length} records`)

    const finals = new Map<number, AttributionView>()
    for (const id of records) {
      finals.set(id, await waitFor(async () => {
        const entry = await node.rpc.call('openledger_getAttribution', [id])
        return entry?.status === 'final' || entry?.status === 'unattributed' ? entry : undefined
      }, `record ${id} final`, 240_000, 500))
    }
    for (const [id, entry] of finals) {
      t.equal(entry.status, 'final', `record ${id} final`)
      t.equal(entry.receipt?.contributions[0]?.index, quoted.index, `record ${id}: the quoted chapter holds the top score`)
      t.ok(entry.verifiers.length >= 2 && entry.reveals.length === entry.verifiers.length, `record ${id}: re-checked by ${entry.verifiers.length} verifiers`)
      t.ok(entry.reveals.every((r) => r.receiptHash === entry.receiptHash), `record ${id}: every verifier recomputed the attributor's receipt hash`)
      t.notOk(same(entry.attributor, liar), `record ${id}: the final receipt is an honest attributor's (attempt ${entry.attempt})`)
      // reassigned once when the liar was its first attributor, never for the liar otherwise (a CI
      // run saw all four of a round drawn to the liar, (1/4)^4 of rounds: the runtime's
      // test/runtime/modules/attribution/reassignment.test.ts); an honest first attributor that
      // missed its receipt deadline under load is excluded itself
      const first = firstAttributor.get(id)
      if (first !== undefined && same(first, liar)) t.equal(entry.attempt, 2, `record ${id}: first drawn ${faulty.name}, reassigned once`)
      else if (first !== undefined) {
        t.ok(entry.attempt === 1 || (entry.excluded.some((o) => same(o, first)) && !entry.excluded.some((o) => same(o, liar))), `record ${id}: first drawn ${nodeOf(first).name}, final at attempt ${entry.attempt}`)
      }
    }
    const lies = [...firstAttributor.values()].filter((a) => same(a, liar)).length
    t.comment(`${faulty.name} was the first attributor of ${lies} of ${records.length} records`)
    const lied = found(finals.get(caught), `record ${caught}`)
    t.ok(lied.attempt >= 2, `the lying receipt lost its re-check: the record was reassigned (attempt ${lied.attempt})`)
    t.ok(lied.excluded.some((o) => same(o, liar)) && !same(lied.attributor, liar), `${faulty.name} excluded; an honest attributor's receipt is final`)
    // the slashes show as the exact stake drop: slashBps (5 %) once per record it lied on
    // (the WorkerSlashed event lookup by block range missed it in a run: not yet understood)
    const stakeAfter = BigInt(found(await node.rpc.call('openledger_getValidator', [liar]), 'the liar\'s validator').tokens)
    // (a missed check deadline as a verifier, 10 bps, may come on top under load; another 5 % slash may not)
    const slashed = (times: number): bigint => {
      let stake = stakeBefore
      for (let i = 0; i < times; i++) stake -= (stake * 500n) / 10_000n
      return stake
    }
    t.ok(stakeAfter <= slashed(lies) && stakeAfter > slashed(lies + 1), `its stake dropped by slashBps once per lie (${lies}): ${stakeBefore} → ${stakeAfter}`)
    // the quoted contributor accrued exactly what the records paid it
    const owed = [...finals.values()].flatMap((e) => e.payouts).filter((p) => same(p.contributor, quoted.contributor)).reduce((sum, p) => sum + BigInt(p.amount), 0n)
    t.ok(owed > 0n, `the quoted chapter's contributor was paid ${owed}`)
    const rewardsAfter = BigInt((await node.rpc.call('openledger_getRewards', [quoted.contributor])).accrued)
    t.equal(rewardsAfter - rewardsBefore, owed, 'its accrued rewards grew by exactly the payouts')
  })

  await t.test('a real payout proven by the light client from the genesis file alone, and shown on its record\'s explorer page', async (t) => {
    await provenAndShownPayout(t, running().filter((n) => n !== liarNode), join(net.dir, 'genesis.json'))
  })
})

/**
 * The latest final attribution with payouts (the previous subtest's), as `openledger light --payout`
 * proves it against a header it verified by commit certificates, and as the explorer's record page
 * shows it in headless Chromium (screenshot in .tap/screenshots/explorer/). By now the genesis is
 * older than the trusting period (2/3 of 600 blocks at 500 ms: 200 s), so the client starts, as the
 * README says, from a recent block whose hash another node gave (`--trust HEIGHT:HASH`).
 */
async function provenAndShownPayout(t: Test, honest: readonly TestnetNode[], genesisFile: string): Promise<void> {
  const node = found(honest[0], 'an honest running node')
  const other = found(honest[1], 'a second honest running node')
  const listed = await node.rpc.call('openledger_listAttributions', [null, 50])
  const paid = listed.find((a) => a.status === 'final' && a.payouts.length > 0)
  if (paid === undefined) { t.fail(`a final attribution with payouts among ${listed.length}`); return }
  const contributor = found(paid.payouts[0], 'a payout').contributor
  const owed = paid.payouts.filter((p) => same(p.contributor, contributor)).reduce((sum, p) => sum + BigInt(p.amount), 0n)

  const trustedHeight = Math.max(1, (await headHeight(other)) - 5)
  const trustedHash = found(await other.rpc.call('chain_getBlockHash', [trustedHeight]), 'a block hash')
  // (the client reports only when it verified a block past the trusted one)
  await waitForHeight([node], trustedHeight + 2)
  const light = await runCli(['light', '--genesis', genesisFile, '--trust', `${trustedHeight}:${trustedHash}`, '--rpc', node.rpcUrl, '--payout', `${paid.record}:${contributor}`, '--json'])
  t.equal(light.code, 0, light.stderr)
  const lines = light.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  // its trusting period counts the unbonding period's blocks at the genesis file's block time (testnet init --block-time 500), not 1000
  const { params } = await node.rpc.call('openledger_getStakingInfo')
  t.equal(lines[0]?.['trustingPeriodMs'], trustingPeriodMs(params.unbondingPeriod, 500), 'the trusting period at the chain\'s 500 ms blocks')
  const verified = lines.find((line) => line['verified'] !== undefined) as { height: number; hash: string } | undefined
  const proven = lines.find((line) => line['record'] === paid.record) as { status: string; amount: string; contributions: unknown[]; height: number } | undefined
  t.ok(verified !== undefined && verified.height >= paid.finalHeight, `the light client verified block ${verified?.height} (the record final at ${paid.finalHeight})`)
  t.equal(verified?.hash, await node.rpc.call('chain_getBlockHash', [verified?.height ?? 0]), 'the block the node finalized')
  t.equal(proven?.status, 'final', `record ${paid.record}'s attribution proven final`)
  t.equal(BigInt(proven?.amount ?? -1), owed, `it paid ${contributor} ${owed}, proven at block ${proven?.height}`)
  t.equal(proven?.contributions.length, paid.payouts.filter((p) => same(p.contributor, contributor)).length, 'for each of its paid contributions')

  await mkdir(SCREENSHOTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(`${node.rpcUrl}/#/inference/${paid.record}`)
    await page.waitForSelector('#payouts table', { timeout: 20_000 })
    t.equal(await page.textContent('#attribution-status'), 'final', 'the explorer shows the attribution final')
    // a row per payout: the contributor's link and the amount (OPEN, 8 decimals)
    const rows = await page.locator('#payouts table tr:has(td)').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('a[href^="#/account/"]')?.getAttribute('href') ?? '', tr.children[2]?.textContent ?? '']))
    t.equal(rows.length, paid.payouts.length, `the payouts table lists the ${paid.payouts.length} payouts`)
    for (const [i, payout] of paid.payouts.entries()) {
      const [link, amount] = rows[i] ?? ['', '']
      t.ok(same(link, `#/account/${payout.contributor}`), `row ${i}: contributor ${payout.contributor}`)
      const shown = amount.replace(/ OPEN$/, '').replaceAll(',', '')
      const [whole = '', fraction = ''] = shown.split('.')
      t.equal(BigInt(whole + fraction.padEnd(8, '0')), BigInt(payout.amount) / 10n ** 10n, `row ${i}: ${amount}, the payout to 8 decimals`)
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'testnet-payouts.png'), fullPage: true })
  } finally {
    await browser.close()
  }
}
