// Golden hashes: a tiny fixed job trained for a few steps must end in exactly these bytes on every
// machine. A change that alters them changes the engine's arithmetic: that is only allowed together
// with a deliberate ENGINE_VERSION bump in ml/index.ts (and new constants here).
import t from 'tap'
import { toHex } from '../../runtime/crypto/hash.ts'
import { ENGINE_VERSION } from '../../ml/index.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { forward } from '../../ml/model/forward.ts'
import { initParams, tensorsHash } from '../../ml/model/params.ts'
import { paramShapes } from '../../ml/model/config.ts'
import { train } from '../../ml/train/trainer.ts'

const GOLDEN = {
  engineVersion: 'openledger-ml/1',
  initParams: '0xa1b044eafb1f24b98d866991455ef2d347f2f45955157e564c13f9db5c86817c',
  forwardLogits: '0xdb84756b42a8e01df8a774f4b34a8627c35afbdd3e3fa3d2fb77c95b7d431dd9',
  loraFinal: '0x053a9465f5cc0a75a2ce43a124aaad594400c67f754ce05e100fb0350238a195',
  loraRoot: '0xb7022945121fb60eac0d3fb7d9d2f41cb0b79e2f6e423fd5bdfb7247d150df6b',
  allFinal: '0xb5f265ec9378775766769cb00be071ead3c3214e46b67121877185082fc2e0e2',
  classifierFinal: '0x669c2150903b207941dfa816c6d9e09da1b03a2c39f5083fbeffe83f29dabfc1',
}

const lm: ModelConfig = { kind: 'lm', vocab: 32, context: 8, dim: 16, layers: 2, heads: 2, hidden: 32, classes: 0 }
const cls: ModelConfig = { kind: 'classifier', vocab: 32, context: 8, dim: 16, layers: 1, heads: 4, hidden: 16, classes: 3 }
const tokens = Int32Array.from({ length: 100 }, (_, i) => (i * 7 + (i >> 3)) % 32)
const hyper = { rank: 2, alpha: 4, steps: 4, batchSize: 3, learningRate: 5e-3, seed: 2024, checkpointEvery: 2, weightDecay: 0.01, warmupSteps: 2 }

t.test('golden hashes of engine ' + ENGINE_VERSION, async (t) => {
  const base = initParams(lm, 42)
  const logits = forward(lm, base, undefined, 1, tokens.subarray(0, 16), 2, 8)
  const lora = await train({ config: lm, mode: 'lora', base, data: { kind: 'lm', tokens }, hyper })
  const all = await train({ config: lm, mode: 'all', base, data: { kind: 'lm', tokens }, hyper: { ...hyper, steps: 2 } })
  const clsBase = initParams(cls, 43)
  const examples = Array.from({ length: 9 }, (_, i) => ({ ids: tokens.subarray(i * 3, i * 3 + 2 + (i % 6)), label: i % 3 }))
  const classifier = await train({ config: cls, mode: 'lora', base: clsBase, data: { kind: 'classifier', examples }, hyper })
  const actual = {
    engineVersion: ENGINE_VERSION,
    initParams: toHex(tensorsHash(paramShapes(lm), base)),
    forwardLogits: toHex(tensorsHash([['logits', [2, 8, 32]]], new Map([['logits', logits]]))),
    loraFinal: toHex(lora.finalHash),
    loraRoot: toHex(lora.checkpointRoot),
    allFinal: toHex(all.finalHash),
    classifierFinal: toHex(classifier.finalHash),
  }
  t.same(actual, GOLDEN)
})
