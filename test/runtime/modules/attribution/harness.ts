// The attribution module over the inference harness (seven validators, one genesis LM): a datanet
// of several contributors with deposits, an adapter trained on it, paid inferences, receipts and
// re-checks, and the invariants (supply; the attribution account holds exactly the accrued rewards).
import { commitmentOf } from '../../../../runtime/commitReveal.ts'
import { concatBytes, sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import { CHECK_COMMIT_DOMAIN, checkScope, receiptHash } from '../../../../runtime/modules/attribution/lifecycle.ts'
import {
  ATTRIBUTION_ACCOUNT, attributions, Method, rewards, SCORE_TOTAL, type Attribution, type AttributionParams, type Receipt, type Scored,
} from '../../../../runtime/modules/attribution/state.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import { datanetCount } from '../../../../runtime/modules/datanets/state.ts'
import { recordCount, records, requestCount } from '../../../../runtime/modules/inference/state.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import { BOND, invariantProblems as inferenceInvariants, offer, output, PROVIDER, requestArgs, TEST_INFERENCE_PARAMS } from '../inference/harness.ts'
import { jobArgs, ModelsHarness, modelsSpec, OPEN, round } from '../models/harness.ts'

export { OPEN }

export const TEST_ATTRIBUTION_PARAMS: AttributionParams = {
  receiptBlocks: 5,
  sampleRateBps: 0,
  verifiers: 2,
  verifyBlocks: 4,
  maxAttempts: 3,
  slashBps: 500,
  missedDeadlineSlashBps: 100,
  penaltyThreshold: 1_500_000,
  penaltySlashBps: 5_000,
  maxAssignPerBlock: 16,
}

export const CONTRIBUTORS: DevAccountName[] = ['dave', 'eve', 'ferdie', 'bob']
export const DEPOSIT = 10n * OPEN

/**
 * A chain where ferdie's datanet 1 holds one contribution of each of CONTRIBUTORS (index i, a
 * deposit each; content ids `cids` if given) in version 1, on `validators` equal validators, eve's adapter (model version 1) is trained on it, and charlie serves.
 */
export async function attributionChain(params: Partial<AttributionParams> = {}, cids?: readonly Uint8Array[], validators = 7): Promise<ModelsHarness> {
  const h = await ModelsHarness.create(modelsSpec({ validators, inferenceParams: TEST_INFERENCE_PARAMS, attributionParams: { ...TEST_ATTRIBUTION_PARAMS, ...params } }))
  const format = Format.documents
  await h.ok('ferdie', 'create', { name: 'corpus', description: '', tags: [], licence: 'CC0-1.0', visibility: 0, rules: { deposit: DEPOSIT, feePerByte: 0n, formats: [format], maxBytes: 10_000 }, curators: [] }, 'datanets')
  const datanet = await datanetCount.get(h.state)
  for (const [index, who] of CONTRIBUTORS.entries()) {
    await h.ok(who, 'contribute', { datanet, cid: cids?.[index] ?? sha256(utf8(`contribution ${index}`)), size: 1_000, rows: 1, format, metadata: '' }, 'datanets')
    for (const operator of h.operators) {
      const { error } = await h.call(operator, 'attestAvailability', { datanet, contribution: index }, 'datanets')
      if (error?.code === 'datanets.AlreadyAvailable') break
    }
    await h.ok('ferdie', 'accept', { datanet, contribution: index }, 'datanets')
  }
  await h.ok('ferdie', 'publishVersion', { datanet, note: 'v1' }, 'datanets')
  await h.createJob(jobArgs({ datanets: [{ datanet, version: 1 }] }))
  await round(h, 1, 'honest')
  await h.ok(PROVIDER, 'registerProvider', { bond: BOND, ...offer() }, 'inference')
  return h
}

/** A paid on-chain request served by charlie with eve's adapter; returns its record id once its attributor is drawn. */
export async function paidInference(h: ModelsHarness, tag = 'a'): Promise<number> {
  await h.ok('bob', 'request', requestArgs({ adapters: [{ id: 1, weightMilli: 1_000 }] }), 'inference')
  const id = await requestCount.get(h.state)
  await h.ok(PROVIDER, 'fulfil', { request: id, ...output(tag), inputTokens: 6, outputTokens: 13 }, 'inference')
  const record = await recordCount.get(h.state)
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  return record
}

export async function attributionOf(h: ModelsHarness, record: number): Promise<Attribution> {
  const entry = await attributions.get(h.state, record)
  if (entry === undefined) throw new Error(`no attribution of record ${record}`)
  return entry
}

const byOrder = (a: Scored, b: Scored): number => b.score - a.score || a.datanet - b.datanet || a.index - b.index

/** An honest-looking receipt for the record crediting `scores` (contribution index -> share; sorted here). */
export async function receiptFor(h: ModelsHarness, record: number, scores: Record<number, number>, harmful: Record<number, number> = {}): Promise<Receipt> {
  const stored = await records.get(h.state, record)
  if (stored === undefined) throw new Error(`no record ${record}`)
  const list = (m: Record<number, number>): Scored[] => Object.entries(m).map(([index, score]) => ({ datanet: 1, index: Number(index), score })).sort(byOrder)
  return { chainId: h.spec.chainId, record, method: Method.spans, datanets: [{ datanet: 1, version: 1 }], outputHash: stored.outputHash, contributions: list(scores), harmful: list(harmful) }
}

/** A fair split of SCORE_TOTAL: 50 %, 30 %, 20 % to contributions 0, 1, 2. */
export const FAIR: Record<number, number> = { 0: SCORE_TOTAL / 2, 1: (SCORE_TOTAL * 3) / 10, 2: SCORE_TOTAL / 5 }

export const saltOf = (worker: Address): Uint8Array => sha256(concatBytes(utf8('check salt'), worker))

/** Every verifier of the record commits to and reveals the receipt hash of `receipts[i]` (the last one repeated). */
export async function check(h: ModelsHarness, record: number, receipts: readonly Receipt[]): Promise<void> {
  const entry = await attributionOf(h, record)
  const hashOf = (i: number): Uint8Array => receiptHash(receipts[Math.min(i, receipts.length - 1)] as Receipt)
  for (const [i, verifier] of entry.verifiers.entries()) {
    await h.ok(verifier, 'commitCheck', { record, commitment: commitmentOf(CHECK_COMMIT_DOMAIN, checkScope(entry), verifier, saltOf(verifier), hashOf(i)) }, 'attribution')
  }
  for (const [i, verifier] of entry.verifiers.entries()) await h.ok(verifier, 'revealCheck', { record, receiptHash: hashOf(i), salt: saltOf(verifier) }, 'attribution')
}

/** The inference invariants (supply, the inference account) and the attribution account's: exactly the accrued rewards. */
export async function invariantProblems(h: ModelsHarness): Promise<string[]> {
  const problems = await inferenceInvariants(h)
  let accrued = 0n
  for (const { value } of h.committed.withPrefix(rewards.prefix)) accrued += rewards.decodeValue(value).accrued
  const held = await balanceOf(h.committed, ATTRIBUTION_ACCOUNT)
  if (held !== accrued) problems.push(`attribution account holds ${held}, owes ${accrued}`)
  for (const { value } of h.committed.withPrefix(attributions.prefix)) {
    const entry = attributions.decodeValue(value)
    const paid = entry.payouts.reduce((sum, p) => sum + p.amount, 0n)
    if (paid !== entry.paid) problems.push(`record ${entry.record}'s payouts sum to ${paid}, not ${entry.paid}`)
  }
  return problems
}
