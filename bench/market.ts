// The inference market's cost per inference, measured in one run (`npm run bench -- --only market`):
//
//   on chain     N paid on-chain requests and their fulfilments (2N transactions)
//   one channel  N inferences paid by cumulative vouchers on one channel, redeemed in one redeem
//   N channels   one inference on each of N channels, redeemed 64 channels per redeem
//   re-check     one verification re-check (verify.ts verifyOutputBytes over the output's bytes)
//                next to serving the same request with the OpenLoRA engine (onnxruntime)
//
// "Node CPU" is this process's CPU time (process.cpuUsage: every thread) for what a node does with
// the transactions: recover each sender, execute the block, commit the authenticated state (in
// memory: no disk). Signing (the clients' work) happens before the clock starts. The channel
// figures also show the provider's own check of each voucher (one signature recovery per paid
// request), which the on-chain path does not have. Ratios compare figures of this run.
import { devChainSpec, DEV_INFERENCE_PARAMS } from '../genesis/devSpec.ts'
import { ONE_OPEN } from '../genesis/tokenomics.ts'
import { shippedBaseModels } from '../node/models/baseModels.ts'
import { loadBaseModel } from '../node/models/assets.ts'
import { createServingEngine } from '../node/serving/engine/index.ts'
import { verifyOutputBytes } from '../node/serving/verify.ts'
import { keccak256, sha256, utf8 } from '../runtime/crypto/hash.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import { ModuleIndex } from '../runtime/modules/indices.ts'
import { initialChannelHead, nextChannelHead, signVoucher, voucherSigner, type ChannelTerms } from '../runtime/modules/inference/voucher.ts'
import { MAX_REDEEM_VOUCHERS } from '../runtime/modules/inference/state.ts'
import type { CallDefinition } from '../runtime/module.ts'
import { ReceiptStatus } from '../runtime/receipt.ts'
import { recoverSender, signTransaction, type Transaction } from '../runtime/transaction.ts'
import { benchAccounts, InProcessChain, withFundedSenders, type BenchAccount } from './fixtures.ts'

const GREEDY = { temperatureMilli: 0, topK: 0, topPMilli: 1_000, seed: 0 }
const PROMPT = 'The state of the union is'
const LM = 'ol-lm-sotu-2m'
const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

export interface MarketResult {
  onChainCpu: number
  oneChannelCpu: number
  manyChannelsCpu: number
  recheckPerServed: number
}

export async function benchMarket(options: { log: (line: string) => void; quick?: boolean }): Promise<MarketResult> {
  const { log } = options
  const n = options.quick === true ? 200 : 1_000
  const users = benchAccounts(n, 'market user')
  const [provider] = benchAccounts(1, 'market provider') as [BenchAccount]
  const base = devChainSpec({ baseModels: await shippedBaseModels() })
  const lm = base.models?.baseModels.findIndex((m) => m.name === LM) ?? -1
  if (lm < 0) throw new Error(`the shipped ${LM} is not in the genesis`)
  const baseId = lm + 1
  // users and the provider funded out of the liquidity remainder
  const funded = withFundedSenders(withFundedSenders(base, users, 100n * ONE_OPEN), [provider], 100_000n * ONE_OPEN)
  const chain = await InProcessChain.open({ ...funded, inference: { params: DEV_INFERENCE_PARAMS } })
  const { runtime, spec } = chain

  const nonces = new Map<BenchAccount, number>()
  const call = <Args>(from: BenchAccount, name: string, args: Args, gasLimit = 300_000): Transaction => {
    const module = runtime.moduleByName('inference')
    const definition = module?.calls.find((c) => c.name === name) as CallDefinition<Args> | undefined
    if (module === undefined || definition === undefined) throw new Error(name)
    const nonce = nonces.get(from) ?? 0
    nonces.set(from, nonce + 1)
    return signTransaction({ chainId: spec.chainId, nonce, gasLimit, maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.inference, call: definition.index, args: definition.args.encode(args) as never } }, from.privateKey)
  }
  /** Executes the blocks as a node imports them (senders recovered, block executed, state committed); returns the CPU seconds. */
  const blocks = async (groups: readonly Transaction[][]): Promise<number> => {
    const started = cpuSeconds()
    for (const txs of groups) {
      const execution = await chain.begin()
      for (const tx of txs) {
        const receipt = await execution.apply(tx, recoverSender(tx) as Address)
        if (receipt.status !== ReceiptStatus.success) throw new Error(`bench transaction failed at height ${chain.height + 1}: error ${JSON.stringify(receipt.error)}`)
      }
      await chain.commit(await execution.finish())
    }
    return cpuSeconds() - started
  }
  const chunk = <T>(list: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size))
  const offer = { endpoint: 'http://127.0.0.1:9', priceIn: ONE_OPEN / 1_000n, priceOut: ONE_OPEN / 500n, models: [baseId], capacity: 1_000_000 }
  await blocks([[call(provider, 'registerProvider', { bond: 10_000n * ONE_OPEN, ...offer })]])

  // ---- on chain: N requests, then their fulfilments
  const requests = users.map((user) => call(user, 'request', {
    provider: provider.address, base: baseId, adapters: [], prompt: PROMPT, promptTokens: 6, maxTokens: 16, sampling: GREEDY, escrow: ONE_OPEN / 10n,
  }))
  const fulfilments = users.map((_, i) => call(provider, 'fulfil', { request: i + 1, outputHash: keccak256(utf8(`out ${i}`)), outputCid: sha256(utf8(`cid ${i}`)), inputTokens: 6, outputTokens: 16 }))
  const onChain = await blocks([...chunk(requests, 500), ...chunk(fulfilments, 500)])

  // ---- channels: the users' vouchers, signed before the clock starts
  const price = ONE_OPEN / 1_000n
  const terms = (i: number): ChannelTerms => ({ base: baseId, adapters: [], promptHash: keccak256(utf8(`${PROMPT} ${i}`)), promptTokens: 6, maxTokens: 16, sampling: GREEDY, price })
  const inference = (t: ChannelTerms, i: number) => ({ terms: t, outputHash: keccak256(utf8(`channel out ${i}`)), outputCid: sha256(utf8(`channel cid ${i}`)), inputTokens: 6, outputTokens: 16 })
  const opens = users.map((user) => call(user, 'openChannel', { provider: provider.address, deposit: 10n * ONE_OPEN }))
  await blocks(chunk(opens, 500))
  // one channel (the first user's, channel 1): N vouchers, each cumulative; the provider keeps the last
  let head = initialChannelHead(1)
  const oneChannel: Array<{ cumulative: bigint; requestHash: Uint8Array; signature: Uint8Array; terms: ChannelTerms }> = []
  for (let i = 0; i < n; i++) {
    const t = terms(i)
    head = nextChannelHead(head, t)
    const cumulative = price * BigInt(i + 1)
    oneChannel.push({ cumulative, requestHash: head, signature: signVoucher(users[0]!.privateKey, { chainId: spec.chainId, channel: 1, cumulative, requestHash: head }), terms: t })
  }
  const last = oneChannel.at(-1)!
  const oneRedeem = call(provider, 'redeem', { vouchers: [{ channel: 1, cumulative: last.cumulative, requestHash: last.requestHash, signature: last.signature, inferences: oneChannel.map((v, i) => inference(v.terms, i)) }] }, 3_000_000)
  // N channels: one inference on each (channels 2..N, and the first user's second channel is not needed)
  const many = users.slice(1).map((user, j) => {
    const channel = j + 2
    const t = terms(j)
    const requestHash = nextChannelHead(initialChannelHead(channel), t)
    return { channel, cumulative: price, requestHash, signature: signVoucher(user.privateKey, { chainId: spec.chainId, channel, cumulative: price, requestHash }), inferences: [inference(t, j)] }
  })
  const manyRedeems = chunk(many, MAX_REDEEM_VOUCHERS).map((vouchers) => call(provider, 'redeem', { vouchers }, 3_000_000))

  // the provider checks each voucher before serving (one recovery per paid request)
  const gateStarted = cpuSeconds()
  for (const v of oneChannel) voucherSigner({ chainId: spec.chainId, channel: 1, cumulative: v.cumulative, requestHash: v.requestHash }, v.signature)
  const gate = (cpuSeconds() - gateStarted) / n
  const oneChannelCpu = (await blocks([[oneRedeem]])) / n
  const manyChannelsCpu = (await blocks(chunk(manyRedeems, 4))) / many.length
  const onChainCpu = onChain / n

  const us = (seconds: number): string => `${(seconds * 1e6).toFixed(0).padStart(7)} µs`
  log(`node CPU per paid inference (${n} inferences each; execute + state commit in memory, senders recovered)`)
  log(`  on chain: request + fulfilment          ${us(onChainCpu)}`)
  log(`  one channel, cumulative vouchers        ${us(oneChannelCpu)}   ${(oneChannelCpu / onChainCpu).toFixed(3)}x of on chain (target <= 0.050)   + provider's voucher check ${us(gate)}`)
  log(`  ${many.length} channels, ${MAX_REDEEM_VOUCHERS} per redeem        ${us(manyChannelsCpu)}   ${(manyChannelsCpu / onChainCpu).toFixed(3)}x of on chain (target <= 0.333)   + provider's voucher check ${us(gate)}`)

  // ---- re-check vs serving, the same requests
  const model = await loadBaseModel(LM)
  const engine = createServingEngine({ bases: [{ name: LM, config: model.entry.config, weights: model.weights }], adapterSource: { fetch: () => Promise.reject(new Error('no adapters')) } })
  await engine.start()
  const prompts = ['The state of the union is', 'We the people', 'My fellow citizens', 'Congress must act to', 'In order to form', 'Tonight I want to talk about', 'The economy', 'Our nation']
  const outputs: Array<{ prompt: number[]; output: Uint8Array }> = []
  const maxTokens = 16
  const sampling = { temperature: 0, topK: 0, topP: 1, seed: 0 }
  await engine.generate({ base: LM, adapters: [], promptTokens: Array.from(model.tokenizer.encode('warm up')), maxTokens, sampling, logprobs: false }).done
  const servingStarted = cpuSeconds()
  for (const text of prompts) {
    const prompt = Array.from(model.tokenizer.encode(text))
    const record = await engine.generate({ base: LM, adapters: [], promptTokens: prompt, maxTokens, sampling, stopTokens: [256], logprobs: false }).done
    outputs.push({ prompt, output: utf8(model.tokenizer.decode(record.outputTokens.filter((t) => t !== 256))) })
  }
  const serving = (cpuSeconds() - servingStarted) / prompts.length
  await engine.stop()
  const verifyModel = { config: model.entry.config, weights: model.weights, tokenBytes: (id: number) => model.tokenizer.tokenBytes(id), encode: (text: string) => model.tokenizer.encode(text) }
  verifyOutputBytes({ promptTokens: outputs[0]!.prompt, output: outputs[0]!.output, maxTokens, sampling, adapters: [] }, verifyModel, new Map())
  const recheckStarted = cpuSeconds()
  let accepted = 0
  for (const { prompt, output } of outputs) {
    const verdict = verifyOutputBytes({ promptTokens: prompt, output, maxTokens, sampling, adapters: [] }, verifyModel, new Map())
    if (verdict.accepted) accepted++
  }
  const recheck = (cpuSeconds() - recheckStarted) / outputs.length
  const rate = DEV_INFERENCE_PARAMS.checkSampleRateBps / 10_000
  const recheckPerServed = rate * DEV_INFERENCE_PARAMS.checkers * recheck
  log(`re-check vs serving (${prompts.length} greedy requests of ${maxTokens} tokens on ${LM}; ${accepted}/${outputs.length} honest outputs accepted)`)
  log(`  serving one request (OpenLoRA engine, onnxruntime)   ${us(serving)}`)
  log(`  one re-check (verifyOutputBytes, ml/ engine)         ${us(recheck)}   ${(recheck / serving).toFixed(2)}x of serving`)
  log(`  the network's re-check CPU per served request: ${rate * 100} % sampled x ${DEV_INFERENCE_PARAMS.checkers} checkers x one re-check = ${us(recheckPerServed)}   ${(recheckPerServed / serving).toFixed(3)}x of serving (target <= 0.25)`)
  return { onChainCpu, oneChannelCpu, manyChannelsCpu, recheckPerServed: recheckPerServed / serving }
}

if (import.meta.main) await benchMarket({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
