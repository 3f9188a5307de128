// A small influence job end to end — a random classifier and adapter, TracIn-CP over two
// checkpoints and DataInf — printing the kernel and sha256 of the scores, so that a test can run
// it under each ML kernel and compare the bytes.
import { dataInf, tracInCp, type LoraModel } from '../../attribution/influence.ts'
import { kernelKind } from '../../ml/index.ts'
import type { Example } from '../../ml/model/backward.ts'
import type { ModelConfig, Tensors } from '../../ml/model/config.ts'
import { initAdapter, initParams } from '../../ml/model/params.ts'
import { Rng } from '../../ml/random.ts'
import { sha256, toHex } from '../../runtime/crypto/hash.ts'

export const INFLUENCE_CONFIG: ModelConfig = { kind: 'classifier', vocab: 50, context: 8, dim: 8, layers: 1, heads: 2, hidden: 16, classes: 2 }

/** A base, an adapter whose lora_b are non-zero (so every block has a gradient), and examples. */
export function influenceSetup(seed: number): { model: LoraModel; adapter: Map<string, Float32Array>; examples: Example[] } {
  const base = initParams(INFLUENCE_CONFIG, seed)
  const adapter = initAdapter(INFLUENCE_CONFIG, { rank: 2, alpha: 2 }, seed + 1, base)
  const rng = new Rng(seed + 2)
  for (const [name, tensor] of adapter) if (name.endsWith('lora_b')) for (let i = 0; i < tensor.length; i++) tensor[i] = 0.3 * rng.normal()
  const examples: Example[] = Array.from({ length: 24 }, () => ({ kind: 'classifier', ids: Int32Array.from({ length: 1 + rng.below(8) }, () => rng.below(50)), label: rng.below(2) }))
  return { model: { config: INFLUENCE_CONFIG, base, scale: 1 }, adapter, examples }
}

export function influenceJob(): { kernel: string; tracIn: string; dataInf: string } {
  const { model, adapter, examples } = influenceSetup(4)
  const moved: Tensors = new Map([...adapter].map(([name, t]) => [name, t.map((x, i) => x + 0.01 * ((i % 3) - 1))]))
  const train = examples.slice(0, 18)
  const test = examples.slice(18)
  const t = tracInCp(model, [{ adapter, learningRate: 0.01 }, { adapter: moved, learningRate: 0.005 }], train, test)
  const d = dataInf(model, moved, train, test)
  return { kernel: kernelKind(), tracIn: toHex(sha256(new Uint8Array(t.buffer))), dataInf: toHex(sha256(new Uint8Array(d.buffer))) }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(influenceJob()))
