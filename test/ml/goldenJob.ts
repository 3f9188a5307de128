// The golden job of test/ml/golden.test.ts: a tiny fixed model initialised, run forward and trained
// for a few steps (LM with LoRA and with every parameter, classifier with LoRA), reduced to hashes
// that must equal GOLDEN on every machine and with either kernel build. Run as a program it prints
// one JSON line, {"kernel","hashes"} or {"error","message"} (exit status 1), so other tests can
// run it in a child process with OPENLEDGER_ML_KERNEL set or under an emulated CPU.
//
//   OPENLEDGER_ML_KERNEL=scalar node test/ml/goldenJob.ts
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { ENGINE_VERSION, kernelKind, type KernelKind } from '../../ml/index.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { forward } from '../../ml/model/forward.ts'
import { initParams, tensorsHash } from '../../ml/model/params.ts'
import { paramShapes } from '../../ml/model/config.ts'
import { train } from '../../ml/train/trainer.ts'

/** A change to any of these is only allowed with a deliberate ENGINE_VERSION bump in ml/index.ts. */
export const GOLDEN = {
  engineVersion: 'openledger-ml/2',
  initParams: '0xa1b044eafb1f24b98d866991455ef2d347f2f45955157e564c13f9db5c86817c',
  forwardLogits: '0xbe7d3812bcc2f1b1baed2431e4c6f0416a3cc5685a4be75dd083be55f7b7ceda',
  loraFinal: '0x3a42dceb9491d024ca20bea4021f237930fc3ada2d1878560f815cfbb65bd376',
  loraRoot: '0xf0e4c08c1239a74414fa81dd8c70cb74f6a816e503cf74ccd0afb16e3f492553',
  allFinal: '0x66aa129a51ea850cf318381dc8f71b31f885e585c7d8cae652284853b9d98e87',
  classifierFinal: '0x33da684aa8c06ab30eedb1b75159acbcd7004557f77642793a5dde1f308ead75',
}

export type GoldenHashes = typeof GOLDEN

/** What the program prints. */
export type GoldenJobReport = { kernel: KernelKind; hashes: GoldenHashes } | { error: string; message: string }

const lm: ModelConfig = { kind: 'lm', vocab: 32, context: 8, dim: 16, layers: 2, heads: 2, hidden: 32, classes: 0 }
const cls: ModelConfig = { kind: 'classifier', vocab: 32, context: 8, dim: 16, layers: 1, heads: 4, hidden: 16, classes: 3 }
const tokens = Int32Array.from({ length: 100 }, (_, i) => (i * 7 + (i >> 3)) % 32)
const hyper = { rank: 2, alpha: 4, steps: 4, batchSize: 3, learningRate: 5e-3, seed: 2024, checkpointEvery: 2, weightDecay: 0.01, warmupSteps: 2 }

/** The golden job's hashes as this thread's kernel computes them. */
export async function goldenHashes(): Promise<GoldenHashes> {
  const base = initParams(lm, 42)
  const logits = forward(lm, base, undefined, 1, tokens.subarray(0, 16), 2, 8)
  const lora = await train({ config: lm, mode: 'lora', base, data: { kind: 'lm', tokens }, hyper })
  const all = await train({ config: lm, mode: 'all', base, data: { kind: 'lm', tokens }, hyper: { ...hyper, steps: 2 } })
  const clsBase = initParams(cls, 43)
  const examples = Array.from({ length: 9 }, (_, i) => ({ ids: tokens.subarray(i * 3, i * 3 + 2 + (i % 6)), label: i % 3 }))
  const classifier = await train({ config: cls, mode: 'lora', base: clsBase, data: { kind: 'classifier', examples }, hyper })
  return {
    engineVersion: ENGINE_VERSION,
    initParams: toHex(tensorsHash(paramShapes(lm), base)),
    forwardLogits: toHex(tensorsHash([['logits', [2, 8, 32]]], new Map([['logits', logits]]))),
    loraFinal: toHex(lora.finalHash),
    loraRoot: toHex(lora.checkpointRoot),
    allFinal: toHex(all.finalHash),
    classifierFinal: toHex(classifier.finalHash),
  }
}

if (import.meta.main) {
  let report: GoldenJobReport
  try {
    report = { kernel: kernelKind(), hashes: await goldenHashes() }
  } catch (error) {
    if (!(error instanceof OpenLedgerError)) throw error
    report = { error: error.code, message: error.message }
    process.exitCode = 1
  }
  console.log(JSON.stringify(report))
}
