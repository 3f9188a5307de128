// The validator's re-check service (node/market/recheckService.ts) over the inference harness's
// state: its commit and reveal are the runtime's own calls. A restarted checker reveals the verdict
// it committed to, not the one it would find now: before the restart the record's output was not
// obtainable (`unavailable` committed), after it the blob is in the store (and does not hash to
// the record's output hash: `wrong` if recomputed). The reveal must open the commitment; from the
// saved verdict, and without the file from the chain's commitment alone.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { silentLogger } from '../../../lib/logger.ts'
import { concatBytes, keccak256, utf8 } from '../../../runtime/crypto/hash.ts'
import type { Address } from '../../../runtime/crypto/secp256k1.ts'
import type { CallDefinition } from '../../../runtime/module.ts'
import { CHECK_COMMIT_DOMAIN, checkScope, verdictPayload } from '../../../runtime/modules/inference/checks.ts'
import { checks, Verdict, type InferenceParams } from '../../../runtime/modules/inference/state.ts'
import { commitmentOf } from '../../../runtime/commitReveal.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../runtime/modules/system/randomness.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import type { BlobStore } from '../../../node/blobs/blobStore.ts'
import type { Chain } from '../../../node/chain/chain.ts'
import { CheckCommits } from '../../../node/market/checkCommits.ts'
import { RecheckService } from '../../../node/market/recheckService.ts'
import type { OperatorTransactions } from '../../../node/operator/operatorTransactions.ts'
import { createBlobStore } from '../blobs/fixtures.ts'
import { HYPER, ModelsHarness, modelsSpec, saltOf } from '../../runtime/modules/models/harness.ts'
import { addressOfDev, BOND, market, offer, PROVIDER, requestArgs, TEST_INFERENCE_PARAMS } from '../../runtime/modules/inference/harness.ts'
import { LM, seededAdapter } from '../serving/verifyFixture.ts'
import { adapterShapes } from '../../../ml/model/config.ts'
import { encodeTensors } from '../../../ml/model/params.ts'
import { ENGINE_VERSION } from '../../../ml/index.ts'
import { StateOverlay } from '../../../runtime/state/overlay.ts'
import { baseModels, modelVersions } from '../../../runtime/modules/models/state.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { BaseModelResolver, shippedBaseModels } from '../../../node/models/baseModels.ts'
import { createServingEngine } from '../../../node/serving/engine/engine.ts'
import { ServingError } from '../../../node/serving/errors.ts'

const CHECKED: InferenceParams = { ...TEST_INFERENCE_PARAMS, checkSampleRateBps: 10_000, checkBlocks: 20 }
const BYTES = utf8('the output the provider kept back until the restart')

/** The node's view of the harness: its committed state, read as the chain's. */
function chainOf(h: ModelsHarness): Chain {
  const state = {
    get: (key: Uint8Array) => h.committed.get(key),
    async *entries(prefix: Uint8Array) {
      for (const { key, value } of [...h.committed.withPrefix(prefix)]) yield [key, value] as const
    },
  }
  return { state, onBlock: () => () => {} } as unknown as Chain
}

/** The checker's operator: its calls go into the harness's next block as `worker`'s; the outcomes are kept. */
function operatorOf(h: ModelsHarness, worker: Address, outcomes: Array<{ call: string; args: unknown; error: string | undefined }>): OperatorTransactions {
  return {
    address: worker,
    secret: (label: Uint8Array) => keccak256(concatBytes(utf8('test operator secret'), worker, label)),
    async submit<Args>(_module: number, call: CallDefinition<Args>, args: Args) {
      const outcome = await h.call(worker, call.name, args, 'inference')
      outcomes.push({ call: call.name, args, error: outcome.error?.code })
      return { hash: keccak256(utf8(`${call.name} ${outcomes.length}`)) }
    },
  } as unknown as OperatorTransactions
}

// never reached: the blob does not hash to the record's output hash, so nothing is re-scored
const noResolver = { resolve: () => Promise.reject(new Error('no model needed')) } as unknown as BaseModelResolver

async function setting(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-recheck-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { store } = await createBlobStore(t)
  const h = await market({ params: CHECKED })
  await h.ok('bob', 'request', requestArgs(), 'inference')
  // the record names BYTES' content id and another output hash
  await h.ok(PROVIDER, 'fulfil', { request: 1, outputHash: keccak256(utf8('another output')), outputCid: contentId(BYTES), inputTokens: 6, outputTokens: 13 }, 'inference')
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  const check = await checks.get(h.state, 1)
  if (check === undefined) throw new Error('record 1 was not sampled')
  const [me, other] = check.checkers as [Address, Address]
  const outcomes: Array<{ call: string; args: unknown; error: string | undefined }> = []
  const service = (store: BlobStore) => new RecheckService({ dir: join(dir, 'recheck'), fetchTimeoutMs: 100 }, { chain: chainOf(h), transactions: operatorOf(h, me, outcomes), store, resolver: noResolver, logger: silentLogger })
  return { h, dir, store, me, other, outcomes, service }
}

/** Runs a service's start-up pass (it reconciles the open checks) and stops it. */
async function pass(service: RecheckService): Promise<void> {
  service.start()
  await service.idle()
  await service.stop()
}

for (const withFile of [true, false]) {
  t.test(`a checker restarted between commit and reveal reveals what it committed (${withFile ? 'the saved verdict' : 'its file lost: the verdict that opens the commitment on chain'})`, async (t) => {
    const { h, dir, store, me, other, outcomes, service } = await setting(t)
    await pass(service(store))
    t.same(outcomes.map((o) => [o.call, o.error]), [['commitCheck', undefined]], 'committed, the output not obtainable')
    t.same(await new CheckCommits(join(dir, 'recheck')).load(1, 0), { verdict: Verdict.unavailable, salt: await saltOfService(h, me) }, 'the verdict and salt saved')
    if (!withFile) await rm(join(dir, 'recheck'), { recursive: true, force: true })

    // the other checker commits: the round takes reveals; the output turns up meanwhile
    const check = await checks.get(h.state, 1)
    await h.ok(other, 'commitCheck', { record: 1, commitment: commitmentOf(CHECK_COMMIT_DOMAIN, checkScope(check!), other, saltOf(other), verdictPayload(Verdict.wrong)) }, 'inference')
    await store.put(BYTES)
    t.ok(await store.has(contentId(BYTES)), 'the output is in the store now')

    await pass(service(store))
    t.same(outcomes.slice(1).map((o) => [o.call, o.error]), [['revealCheck', undefined]], 'the reveal opens the commitment')
    const votes = (await checks.get(h.state, 1))?.votes ?? []
    t.same(votes.filter((v) => v.worker.every((b, i) => b === me[i])).map((v) => v.verdict), [Verdict.unavailable], 'the committed verdict, not the one found now (wrong)')
    t.same(await new CheckCommits(join(dir, 'recheck')).list(), [], 'the saved verdict is removed once revealed')
  })
}

/** The salt the service derives for `worker` in round 0 of record 1 (the fake operator's secret). */
async function saltOfService(h: ModelsHarness, worker: Address): Promise<Uint8Array> {
  const check = await checks.get(h.state, 1)
  return keccak256(concatBytes(utf8('test operator secret'), worker, concatBytes(utf8(CHECK_COMMIT_DOMAIN), checkScope(check!))))
}

/**
 * Records on a published adapter of the shipped LM (its real tensor file in the blob store, the
 * version's weights hash its keccak256), served by the real serving engine: the checker loads the
 * adapter as serving does and re-scores with it. The engine's output with the adapter is `ok`; the
 * base's own output recorded as the adapter's is `wrong` (so the adapter is what was scored).
 */
t.test('a record on an adapter is re-scored with the adapter loaded from the blob store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-recheck-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { store } = await createBlobStore(t)
  const h = await ModelsHarness.create(modelsSpec({ inferenceParams: CHECKED, baseModels: await shippedBaseModels() }))
  await h.ok(PROVIDER, 'registerProvider', { bond: BOND, ...offer() }, 'inference')
  const lm = await loadBaseModel(LM)
  const config = lm.entry.config
  const adapter = seededAdapter(config, '2')
  const lora = { rank: adapter.rank, alpha: adapter.alpha }
  const file = encodeTensors(adapterShapes(config, lora), adapter.tensors)
  const cid = await store.put(file)
  // model version 1 of base 1, published with that file (as the models module writes it)
  const overlay = new StateOverlay(h.committed)
  modelVersions.set(overlay, 1, {
    id: 1, job: 1, owner: addressOfDev('eve'), base: 1, baseWeightsHash: (await baseModels.get(h.state, 1))!.weightsHash, engineVersion: ENGINE_VERSION, datanets: [],
    hyper: { ...HYPER, ...lora }, adapter: cid, weightsHash: keccak256(file), checkpointRoot: keccak256(utf8('checkpoints')),
    metrics: { baseLossMicro: 4_000_000, adaptedLossMicro: 3_000_000, baseAccuracyBps: 0, adaptedAccuracyBps: 0 }, trainer: addressOfDev('eve'), verifiers: [], publishedHeight: h.height, publishedAt: 0,
  })
  h.committed.apply(overlay.changes())

  const engine = createServingEngine({
    bases: [{ name: LM, config, weights: lm.weights }],
    adapterSource: { fetch: (_base, id) => (id === '2' ? Promise.resolve(adapter) : Promise.reject(new ServingError('ADAPTER_NOT_FOUND', id))) },
  })
  await engine.start()
  t.teardown(() => engine.stop())
  const prompt = 'The state of the Union is'
  const promptTokens = Array.from(lm.tokenizer.encode(prompt))
  const served = async (uses: Array<{ id: string; weight: number }>) => {
    const record = await engine.generate({ base: LM, adapters: uses, promptTokens, maxTokens: 16, sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, logprobs: false }).done
    return utf8(lm.tokenizer.decode(record.outputTokens))
  }
  const withAdapter = await served([{ id: '2', weight: 1 }])
  const baseOnly = await served([])
  t.notSame(withAdapter, baseOnly, 'the adapter changes the greedy output')

  const verdicts: number[] = []
  for (const [i, output] of [withAdapter, baseOnly].entries()) {
    const id = i + 1
    await h.ok('bob', 'request', requestArgs({ adapters: [{ id: 1, weightMilli: 1_000 }], prompt, promptTokens: promptTokens.length, maxTokens: 16 }), 'inference')
    await store.put(output)
    await h.ok(PROVIDER, 'fulfil', { request: id, outputHash: keccak256(output), outputCid: contentId(output), inputTokens: promptTokens.length, outputTokens: 16 }, 'inference')
    await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
    const check = await checks.get(h.state, id)
    if (check === undefined) throw new Error(`record ${id} was not sampled`)
    const outcomes: Array<{ call: string; args: unknown; error: string | undefined }> = []
    const me = check.checkers[0] as Address
    const resolver = new BaseModelResolver({ store })
    await pass(new RecheckService({ dir: join(dir, `recheck-${id}`), fetchTimeoutMs: 100 }, { chain: chainOf(h), transactions: operatorOf(h, me, outcomes), store, resolver, logger: silentLogger }))
    t.same(outcomes.map((o) => [o.call, o.error]), [['commitCheck', undefined]], `record ${id}: the checker committed`)
    verdicts.push((await new CheckCommits(join(dir, `recheck-${id}`)).load(id, 0))?.verdict ?? -1)
  }
  t.same(verdicts, [Verdict.ok, Verdict.wrong], 'the adapter\'s output ok; the base\'s output under the adapter\'s name wrong')
})
