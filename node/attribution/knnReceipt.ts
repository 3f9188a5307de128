// A classifier's attribution receipt (method knnShapley) from its input and the labelled rows of
// every datanet version in the model's lineage, the same bytes on every node: the pooled features
// of the rows and of the input under the record's weights (attribution/features.ts, ml's engine:
// bit-exact on both kernels), the input's label the model's own answer (no ground truth at
// inference: argmax of its logits, ties to the lower class), each row's exact KNN-Shapley value
// for that answer (attribution/knnShapley.ts, Q32), summed per contribution over the lineage.
// Positive totals pay: the MAX_RECEIPT_CONTRIBUTIONS largest apportioned to SCORE_TOTAL. Negative
// totals harm: a total of −1.0 (SHAPLEY_ONE) is a harmful score of SCORE_TOTAL, the
// MAX_RECEIPT_HARMFUL largest reported; they accumulate into the contribution's penalty on chain.
// Ordered as the runtime requires (score descending, then datanet and index).
//
// Not wired into the attribution service yet (ARCHITECTURE.md, "The attribution service": the
// input from the on-chain request, the labelled rows and the weights are what is left to read).
import { classifierFeatures } from '../../attribution/features.ts'
import { apportion } from '../../attribution/fixedPoint.ts'
import { knnShapley, SHAPLEY_ONE } from '../../attribution/knnShapley.ts'
import type { ModelConfig, Tensors } from '../../ml/model/config.ts'
import { engineFor, truncateIds } from '../../ml/model/forward.ts'
import {
  type LineageEntry, MAX_RECEIPT_CONTRIBUTIONS, MAX_RECEIPT_HARMFUL, Method, type Receipt, SCORE_TOTAL, type Scored,
} from '../../runtime/modules/attribution/index.ts'

/** neighbours of the KNN classifier whose Shapley values are taken */
export const KNN_K = 5

export interface LabelledVersion extends LineageEntry {
  /** the version's rows, each with its contribution index, model token ids and label */
  readonly examples: ReadonlyArray<{ readonly contribution: number; readonly ids: Int32Array; readonly label: number }>
}

export interface KnnReceiptInput {
  readonly chainId: number
  readonly record: number
  readonly outputHash: Uint8Array
  /** the classifier: base weights, and the record's adapters merged into one (scale = weight · alpha / rank) */
  readonly config: ModelConfig
  readonly base: Tensors
  readonly adapter: Tensors | undefined
  readonly scale: number
  /** the record's lineage, in the runtime's order, each with its labelled rows */
  readonly versions: readonly LabelledVersion[]
  /** the input as model token ids */
  readonly input: Int32Array
  readonly k?: number
}

const byOrder = (a: Scored, b: Scored): number => b.score - a.score || a.datanet - b.datanet || a.index - b.index

/** The classifier's answer for the input: argmax of its logits, ties to the lower class. */
export function predictedLabel(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, input: Int32Array): number {
  const engine = engineFor(config, base, adapter, scale)
  engine.forward(truncateIds(input, config.context))
  const logits = engine.classLogits
  let best = 0
  for (let c = 1; c < logits.length; c++) if ((logits[c] as number) > (logits[best] as number)) best = c
  return best
}

/** The record's KNN-Shapley receipt: credited contributions (shares of SCORE_TOTAL) and harmful ones (penalty magnitudes). */
export function knnReceipt(input: KnnReceiptInput): Receipt {
  const { config, base, adapter, scale } = input
  const keys: Array<{ datanet: number; index: number }> = []
  const keyOf = new Map<string, number>()
  const owners: number[] = []
  const labels: number[] = []
  const examples: Array<{ ids: Int32Array }> = []
  for (const { datanet, examples: rows } of input.versions) {
    for (const row of rows) {
      // a contribution in two versions of the lineage: its values add
      const name = `${datanet}/${row.contribution}`
      let key = keyOf.get(name)
      if (key === undefined) {
        key = keys.length
        keys.push({ datanet, index: row.contribution })
        keyOf.set(name, key)
      }
      owners.push(key)
      labels.push(row.label)
      examples.push({ ids: row.ids })
    }
  }
  const receipt: Receipt = {
    chainId: input.chainId, record: input.record, method: Method.knnShapley, datanets: input.versions.map(({ datanet, version }) => ({ datanet, version })),
    outputHash: input.outputHash, contributions: [], harmful: [],
  }
  if (examples.length === 0) return receipt
  const dim = config.dim
  const features = classifierFeatures(config, base, adapter, scale, [...examples, { ids: input.input }])
  const label = predictedLabel(config, base, adapter, scale, input.input)
  const values = knnShapley({ features: features.subarray(0, examples.length * dim), labels }, { features: features.subarray(examples.length * dim), labels: [label] }, dim, input.k ?? KNN_K)
  // per contribution, in example order: exact (each value is a Q32 integer of magnitude ≤ 1.0)
  const totals = new Array<bigint>(keys.length).fill(0n)
  for (let i = 0; i < values.length; i++) totals[owners[i] as number]! += BigInt(values[i] as number)
  const ranked = (sign: 1n | -1n) => keys
    .map((key, i) => ({ ...key, total: (totals[i] as bigint) * sign }))
    .filter((entry) => entry.total > 0n)
    .sort((a, b) => (a.total === b.total ? a.datanet - b.datanet || a.index - b.index : a.total > b.total ? -1 : 1))
  const credited = ranked(1n).slice(0, MAX_RECEIPT_CONTRIBUTIONS)
  if (credited.length > 0) {
    const shares = apportion(credited.map((c) => c.total), BigInt(SCORE_TOTAL))
    for (const [i, c] of credited.entries()) if ((shares[i] ?? 0n) > 0n) receipt.contributions.push({ datanet: c.datanet, index: c.index, score: Number(shares[i]) })
    receipt.contributions.sort(byOrder)
  }
  const one = BigInt(SHAPLEY_ONE)
  for (const h of ranked(-1n).slice(0, MAX_RECEIPT_HARMFUL)) {
    const score = (h.total * BigInt(SCORE_TOTAL)) / one
    if (score > 0n) receipt.harmful.push({ datanet: h.datanet, index: h.index, score: Number(score > BigInt(SCORE_TOTAL) ? BigInt(SCORE_TOTAL) : score) })
  }
  receipt.harmful.sort(byOrder)
  return receipt
}
