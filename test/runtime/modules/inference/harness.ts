// The inference module over the models harness (a seven-validator testnet with one genesis LM of
// context 64): a provider, a published adapter, users, and the escrow invariant.
import { keccak256, sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { TREASURY_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import {
  apiKeys, ApiKeyStatus, channels, ChannelStatus, INFERENCE_ACCOUNT, providers, records, requests, RequestStatus, type InferenceParams,
} from '../../../../runtime/modules/inference/state.ts'
import { initialChannelHead, nextChannelHead, signVoucher, type ChannelTerms } from '../../../../runtime/modules/inference/voucher.ts'
import { devKey, type DevAccountName } from '../../../../genesis/devAccounts.ts'
import { invariantProblems as modelsInvariants, jobArgs, ModelsHarness, modelsSpec, OPEN, round } from '../models/harness.ts'

export { OPEN }

export const TEST_INFERENCE_PARAMS: InferenceParams = {
  minProviderBond: 1_000n * OPEN,
  unbondingBlocks: 10,
  requestBlocks: 5,
  challengeBlocks: 4,
  missedDeadlineSlashBps: 100,
  providerShareBps: 7_000,
  modelOwnerShareBps: 1_500,
  contributorsShareBps: 1_000,
  treasuryShareBps: 500,
  // re-checks off: checks.test.ts turns them on
  checkSampleRateBps: 0,
  checkers: 2,
  disputeCheckers: 3,
  checkBlocks: 4,
  wrongOutputSlashBps: 1_000,
  checkerSlashBps: 500,
  checkerMissedSlashBps: 10,
}

export const PROVIDER: DevAccountName = 'charlie'
export const BOND = 5_000n * OPEN
/** per 1,000 tokens */
export const PRICE_IN = 3n * OPEN / 1_000n
export const PRICE_OUT = 7n * OPEN / 1_000n

export const offer = (overrides: Record<string, unknown> = {}) => ({ endpoint: 'http://127.0.0.1:9000', priceIn: PRICE_IN, priceOut: PRICE_OUT, models: [1], capacity: 4, ...overrides })
export const GREEDY = { temperatureMilli: 0, topK: 0, topPMilli: 1_000, seed: 0 }

/** A chain with charlie registered as a provider of base model 1 and, if `adapter`, eve's published model version 1 of it. */
export async function market(options: { adapter?: boolean; params?: InferenceParams } = {}): Promise<ModelsHarness> {
  const h = await ModelsHarness.create(modelsSpec({ inferenceParams: options.params ?? TEST_INFERENCE_PARAMS }))
  if (options.adapter === true) {
    await h.publishedDatanet()
    await h.createJob(jobArgs())
    await round(h, 1, 'honest')
  }
  await h.ok(PROVIDER, 'registerProvider', { bond: BOND, ...offer() }, 'inference')
  return h
}

export const requestArgs = (overrides: Record<string, unknown> = {}) => ({
  provider: devKey(PROVIDER).address, base: 1, adapters: [], prompt: 'The state of the union is', promptTokens: 6, maxTokens: 20, sampling: GREEDY, escrow: OPEN, ...overrides,
})

export const output = (tag: string) => ({ outputHash: keccak256(utf8(`output ${tag}`)), outputCid: sha256(utf8(`cid ${tag}`)) })

/** A channel session on the client side: the terms it paid for and the voucher after each. */
export class Session {
  head: Uint8Array
  cumulative = 0n
  readonly pending: Array<{ terms: ChannelTerms; tag: string }> = []

  readonly chainId: number
  readonly channel: number
  readonly user: DevAccountName

  constructor(chainId: number, channel: number, user: DevAccountName, head?: Uint8Array) {
    this.chainId = chainId
    this.channel = channel
    this.user = user
    this.head = head ?? initialChannelHead(channel)
  }

  /** The user pays `price` for these terms: returns the voucher it signs. */
  pay(price: bigint, overrides: Partial<ChannelTerms> = {}, tag = `${this.pending.length}`) {
    const terms: ChannelTerms = { base: 1, adapters: [], promptHash: keccak256(utf8(`prompt ${tag}`)), promptTokens: 5, maxTokens: 10, sampling: GREEDY, price, ...overrides }
    this.head = nextChannelHead(this.head, terms)
    this.cumulative += price
    this.pending.push({ terms, tag })
    return this.voucher()
  }

  voucher(signer: DevAccountName = this.user, body: { channel?: number; chainId?: number } = {}) {
    const requestHash = this.head
    return {
      channel: this.channel, cumulative: this.cumulative, requestHash,
      signature: signVoucher(devKey(signer).privateKey, { chainId: body.chainId ?? this.chainId, channel: body.channel ?? this.channel, cumulative: this.cumulative, requestHash }),
    }
  }

  /** The redeem entry of everything paid since the last take, served honestly (output tokens = maxTokens). */
  take() {
    const inferences = this.pending.splice(0).map(({ terms, tag }) => ({ terms, ...output(tag), inputTokens: terms.promptTokens, outputTokens: terms.maxTokens }))
    return { ...this.voucher(), inferences }
  }
}

/**
 * The models invariants (supply conserved) and the inference module account's: it holds exactly
 * the bonds (bonded and unbonding), open requests' escrows, channels' unredeemed deposits, API keys' unspent caps and the
 * records' pending contributors' pools.
 */
export async function invariantProblems(h: ModelsHarness): Promise<string[]> {
  const problems = await modelsInvariants(h)
  let owed = 0n
  for (const { value } of h.committed.withPrefix(providers.prefix)) {
    const p = providers.decodeValue(value)
    owed += p.bond + p.unbonding
  }
  for (const { value } of h.committed.withPrefix(requests.prefix)) {
    const r = requests.decodeValue(value)
    if (r.status === RequestStatus.open) owed += r.escrow
  }
  for (const { value } of h.committed.withPrefix(channels.prefix)) {
    const c = channels.decodeValue(value)
    if (c.status !== ChannelStatus.closed) owed += c.deposit - c.redeemed
  }
  for (const { value } of h.committed.withPrefix(apiKeys.prefix)) {
    const key = apiKeys.decodeValue(value)
    if (key.status !== ApiKeyStatus.closed) owed += key.cap - key.spent
  }
  for (const { value } of h.committed.withPrefix(records.prefix)) {
    const r = records.decodeValue(value)
    owed += r.contributorsPending
    if (r.split.provider + r.split.modelOwner + r.split.contributors + r.split.treasury !== r.price) problems.push(`record ${r.id}'s split does not sum to its price`)
  }
  const held = await balanceOf(h.committed, INFERENCE_ACCOUNT)
  if (held !== owed) problems.push(`inference account holds ${held}, owes ${owed}`)
  return problems
}

export const treasury = (h: ModelsHarness): Promise<bigint> => h.balance(TREASURY_ACCOUNT)
export const addressOfDev = (name: DevAccountName): Address => devKey(name).address

/**
 * The call fails with `code` and leaves the state exactly as an empty block would have (the
 * block itself moves the randomness mix and may run hooks): it changed nothing but its fee.
 */
export async function refuses(h: ModelsHarness, sender: DevAccountName | Address, call: string, args: unknown): Promise<{ code: string | undefined; unchanged: boolean }> {
  const twin = h.clone()
  const outcome = await h.call(sender, call, args, 'inference')
  await twin.block([])
  return { code: outcome.error?.code, unchanged: h.snapshot() === twin.snapshot() }
}
