// Child process of verify.test.ts: verifies the records in the JSON file named by argv[2] with ml/'s
// engine under whatever OPENLEDGER_ML_KERNEL says, honest and tampered, and prints one JSON line.
import { readFileSync } from 'node:fs'
import { kernelKind } from '../../../ml/index.ts'
import type { RequestRecord } from '../../../node/serving/types.ts'
import { verifyRecord } from '../../../node/serving/verify.ts'
import { otherBase, seededAdapter, shippedLm } from './verifyFixture.ts'

const records = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as RequestRecord[]
const lm = await shippedLm()
const adapters = new Map(['1', '2', '3', '4'].map((id) => [id, seededAdapter(lm.config, id)]))
const other = otherBase(lm.config)
const report = records.map((record) => {
  const honest = verifyRecord(record, lm, adapters)
  // a changed token: the last output token replaced by the verifier's least likely choice stand-in (id + 1 mod vocab... far from it)
  const tampered = [...record.outputTokens]
  const i = Math.floor(tampered.length / 2)
  tampered[i] = (tampered[i]! + Math.floor(lm.config.vocab / 2)) % lm.config.vocab
  const changedToken = verifyRecord({ ...record, outputTokens: tampered }, lm, adapters)
  // a different adapter: the record claims adapter 3 (or 4) but was served with its own
  const swap = record.adapters.length === 0 ? [{ id: '3', weight: 1 }] : record.adapters.map((use) => ({ id: use.id === '3' ? '4' : '3', weight: use.weight }))
  const otherAdapter = verifyRecord({ ...record, adapters: swap }, lm, adapters)
  const otherModel = verifyRecord(record, { config: lm.config, weights: other }, adapters)
  return {
    honest: { accepted: honest.accepted, uncertain: honest.uncertain },
    changedToken: changedToken.accepted, otherAdapter: otherAdapter.accepted, otherBase: otherModel.accepted,
  }
})
console.log(JSON.stringify({ kernel: kernelKind(), report }))
