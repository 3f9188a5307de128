// A classifier's KNN-Shapley receipt (node/attribution/knnReceipt.ts) on a random classifier:
// a contribution holding copies of the input labelled with the model's own answer gets the top
// share, one holding copies with the other label is reported harmful, the shares sum to
// SCORE_TOTAL and every list is in the runtime's order; a contribution in two lineage versions
// adds up; the same bytes twice.
import t from 'tap'
import { initParams } from '../../../ml/model/params.ts'
import { Rng } from '../../../ml/random.ts'
import { receiptHash, SCORE_TOTAL, type Scored } from '../../../runtime/modules/attribution/index.ts'
import { keccak256, utf8 } from '../../../runtime/crypto/hash.ts'
import { knnReceipt, predictedLabel, type LabelledVersion } from '../../../node/attribution/knnReceipt.ts'
import { KNN_CONFIG } from '../../attribution/knnJob.ts'

const config = KNN_CONFIG
const base = initParams(config, 3)
const rng = new Rng(11)
const randomIds = (): Int32Array => Int32Array.from({ length: 2 + rng.below(14) }, () => rng.below(config.vocab))
const input = randomIds()
const answer = predictedLabel(config, base, undefined, 1, input)
const other = 1 - answer
const inOrder = (list: readonly Scored[]): boolean => list.every((s, i) => i === 0 || (list[i - 1] as Scored).score > s.score || ((list[i - 1] as Scored).score === s.score && ((list[i - 1] as Scored).datanet < s.datanet || ((list[i - 1] as Scored).datanet === s.datanet && (list[i - 1] as Scored).index < s.index))))

t.test('copies of the input with the answer credited most; with the other label, harmful', async (t) => {
  // contribution 0: the input three times with the model's answer; 1: three times with the other
  // label; 2..5: random rows
  const examples: Array<LabelledVersion['examples'][number]> = [
    ...[0, 1, 2].map(() => ({ contribution: 0, ids: input, label: answer })),
    ...[0, 1, 2].map(() => ({ contribution: 1, ids: input, label: other })),
    ...Array.from({ length: 24 }, (_, i) => ({ contribution: 2 + (i % 4), ids: randomIds(), label: rng.below(2) })),
  ]
  const make = () => knnReceipt({ chainId: 1337, record: 9, outputHash: keccak256(utf8('label')), config, base, adapter: undefined, scale: 1, versions: [{ datanet: 1, version: 1, examples }], input })
  const receipt = make()
  t.equal(receipt.method, 1, 'method knnShapley')
  t.same(receipt.datanets, [{ datanet: 1, version: 1 }])
  t.equal(receipt.contributions[0]?.index, 0, `the answer's copies hold the top share: ${JSON.stringify(receipt.contributions)}`)
  t.equal(receipt.contributions.reduce((sum, c) => sum + c.score, 0), SCORE_TOTAL, 'the shares sum to SCORE_TOTAL')
  t.equal(receipt.harmful[0]?.index, 1, `the other label's copies are the most harmful: ${JSON.stringify(receipt.harmful)}`)
  t.ok(receipt.harmful.every((h) => h.score > 0 && h.score <= SCORE_TOTAL), 'harmful scores in 1..SCORE_TOTAL')
  t.ok(inOrder(receipt.contributions) && inOrder(receipt.harmful), "both lists in the runtime's order")
  const credited = new Set(receipt.contributions.map((c) => c.index))
  t.ok(receipt.harmful.every((h) => !credited.has(h.index)), 'no contribution both credited and harmful')
  t.same(receiptHash(make()), receiptHash(receipt), 'the same bytes twice')

  // the same rows in a second lineage version of another datanet: credited on both, each its own entry
  const twice = knnReceipt({ chainId: 1337, record: 9, outputHash: keccak256(utf8('label')), config, base, adapter: undefined, scale: 1, versions: [{ datanet: 1, version: 1, examples }, { datanet: 2, version: 1, examples }], input })
  t.same(twice.datanets, [{ datanet: 1, version: 1 }, { datanet: 2, version: 1 }])
  t.ok(twice.contributions.some((c) => c.datanet === 2 && c.index === 0) && twice.contributions.some((c) => c.datanet === 1 && c.index === 0), 'both copies of the answer credited')
  t.equal(twice.contributions.reduce((sum, c) => sum + c.score, 0), SCORE_TOTAL)

  const empty = knnReceipt({ chainId: 1337, record: 9, outputHash: keccak256(utf8('label')), config, base, adapter: undefined, scale: 1, versions: [{ datanet: 1, version: 1, examples: [] }], input })
  t.same([empty.contributions, empty.harmful], [[], []], 'no rows: nobody credited (the runtime sends the pool to the treasury)')
})
