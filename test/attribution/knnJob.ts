// A small KNN-Shapley job end to end — a random classifier's pooled features, then the values —
// printing the kernel and the sha256 of the features and of the values, so that a test can run it
// under each ML kernel and compare the bytes.
import { sha256, toHex } from '../../runtime/crypto/hash.ts'
import { classifierFeatures } from '../../attribution/features.ts'
import { knnShapley } from '../../attribution/knnShapley.ts'
import { kernelKind } from '../../ml/index.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { initParams } from '../../ml/model/params.ts'
import { Rng } from '../../ml/random.ts'

export const KNN_CONFIG: ModelConfig = { kind: 'classifier', vocab: 300, context: 16, dim: 32, layers: 2, heads: 2, hidden: 64, classes: 2 }

export function knnJob(): { kernel: string; features: string; values: string } {
  const base = initParams(KNN_CONFIG, 3)
  const rng = new Rng(5)
  const examples = Array.from({ length: 60 }, () => ({ ids: Int32Array.from({ length: 1 + rng.below(16) }, () => rng.below(300)), label: rng.below(2) }))
  const features = classifierFeatures(KNN_CONFIG, base, undefined, 1, examples)
  const train = { features: features.subarray(0, 40 * 32), labels: examples.slice(0, 40).map((e) => e.label) }
  const test = { features: features.subarray(40 * 32), labels: examples.slice(40).map((e) => e.label) }
  const values = knnShapley(train, test, 32, 5)
  return { kernel: kernelKind(), features: toHex(sha256(new Uint8Array(features.buffer))), values: toHex(sha256(new Uint8Array(values.buffer))) }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(knnJob()))
