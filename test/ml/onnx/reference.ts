// Test fixtures for the ONNX exporter: seeded random weights and adapters, and a straightforward
// float64 transcription of the forward math of ml/model/config.ts (plain loops, no tricks) that the
// exported graph is checked against.
import { adapterShapes, elementCount, GELU_C, GELU_K, LN_EPSILON, paramShapes, type LoraConfig, type ModelConfig, type Tensors } from '../../../ml/model/config.ts'

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomTensors(shapes: Array<[string, number[]]>, seed: number, spread: number): Map<string, Float32Array> {
  const random = seededRandom(seed)
  const tensors = new Map<string, Float32Array>()
  for (const [name, shape] of shapes) {
    const data = new Float32Array(elementCount(shape))
    // layer-norm gains around 1 so the signal keeps its scale
    const center = name.endsWith('.g') ? 1 : 0
    for (let i = 0; i < data.length; i++) data[i] = center + (random() * 2 - 1) * spread
    tensors.set(name, data)
  }
  return tensors
}

export function randomBase(config: ModelConfig, seed: number): Map<string, Float32Array> {
  return randomTensors(paramShapes(config), seed, 0.3)
}

export function randomAdapter(config: ModelConfig, lora: LoraConfig, seed: number): Map<string, Float32Array> {
  return randomTensors(adapterShapes(config, lora), seed, 0.3)
}

export function randomIds(config: ModelConfig, count: number, seed: number): Int32Array {
  const random = seededRandom(seed)
  return Int32Array.from({ length: count }, () => Math.floor(random() * config.vocab))
}

/** logits of config.ts's forward pass in float64; `adapter` tensors override the base ones of the same name. */
export function referenceForward(
  config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number,
  ids: Int32Array, batch: number, length: number, mask?: Float32Array,
): Float64Array {
  const { dim: D, heads, hidden } = config
  const E = D / heads
  const get = (name: string): Float32Array => {
    const tensor = adapter?.get(name) ?? base.get(name)
    if (tensor === undefined) throw new Error(`missing ${name}`)
    return tensor
  }
  const matmul = (x: Float64Array, rows: number, w: Float32Array, inner: number, out: number): Float64Array => {
    const y = new Float64Array(rows * out)
    for (let r = 0; r < rows; r++) for (let o = 0; o < out; o++) {
      let sum = 0
      for (let k = 0; k < inner; k++) sum += (x[r * inner + k] as number) * (w[k * out + o] as number)
      y[r * out + o] = sum
    }
    return y
  }
  const layerNorm = (x: Float64Array, rows: number, g: Float32Array, b: Float32Array): Float64Array => {
    const y = new Float64Array(x.length)
    for (let r = 0; r < rows; r++) {
      let mean = 0
      for (let k = 0; k < D; k++) mean += x[r * D + k] as number
      mean /= D
      let variance = 0
      for (let k = 0; k < D; k++) variance += ((x[r * D + k] as number) - mean) ** 2
      variance /= D
      const deviation = Math.sqrt(variance + LN_EPSILON)
      for (let k = 0; k < D; k++) y[r * D + k] = (((x[r * D + k] as number) - mean) / deviation) * (g[k] as number) + (b[k] as number)
    }
    return y
  }
  const addInto = (x: Float64Array, y: Float64Array) => {
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + (y[i] as number)
  }
  const project = (h: Float64Array, rows: number, weight: string): Float64Array => {
    const y = matmul(h, rows, get(weight), D, D)
    const a = adapter?.get(`${weight}.lora_a`)
    const b = adapter?.get(`${weight}.lora_b`)
    if (a !== undefined && b !== undefined) {
      const rank = a.length / D
      const delta = matmul(matmul(h, rows, a, D, rank), rows, b, rank, D)
      for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + scale * (delta[i] as number)
    }
    return y
  }

  const rows = batch * length
  let x: Float64Array = new Float64Array(rows * D)
  const tok = get('tok_emb')
  const pos = get('pos_emb')
  for (let r = 0; r < rows; r++) {
    const id = ids[r] as number
    const t = r % length
    for (let k = 0; k < D; k++) x[r * D + k] = (tok[id * D + k] as number) + (pos[t * D + k] as number)
  }
  for (let i = 0; i < config.layers; i++) {
    const h = layerNorm(x, rows, get(`l${i}.ln1.g`), get(`l${i}.ln1.b`))
    const q = project(h, rows, `l${i}.attn.wq`)
    const k = matmul(h, rows, get(`l${i}.attn.wk`), D, D)
    const v = project(h, rows, `l${i}.attn.wv`)
    const o = new Float64Array(rows * D)
    for (let bi = 0; bi < batch; bi++) for (let j = 0; j < heads; j++) for (let t = 0; t < length; t++) {
      const scores: number[] = []
      for (let u = 0; u <= t; u++) {
        let dot = 0
        for (let e = 0; e < E; e++) dot += (q[(bi * length + t) * D + j * E + e] as number) * (k[(bi * length + u) * D + j * E + e] as number)
        scores.push(dot / Math.sqrt(E))
      }
      const max = Math.max(...scores)
      const exps = scores.map((s) => Math.exp(s - max))
      const total = exps.reduce((a, b) => a + b, 0)
      for (let u = 0; u <= t; u++) {
        const a = (exps[u] as number) / total
        for (let e = 0; e < E; e++) o[(bi * length + t) * D + j * E + e] = (o[(bi * length + t) * D + j * E + e] as number) + a * (v[(bi * length + u) * D + j * E + e] as number)
      }
    }
    addInto(x, matmul(o, rows, get(`l${i}.attn.wo`), D, D))
    const h2 = layerNorm(x, rows, get(`l${i}.ln2.g`), get(`l${i}.ln2.b`))
    const up = matmul(h2, rows, get(`l${i}.mlp.w1`), D, hidden)
    const b1 = get(`l${i}.mlp.b1`)
    for (let r = 0; r < rows; r++) for (let c = 0; c < hidden; c++) {
      const u = (up[r * hidden + c] as number) + (b1[c] as number)
      up[r * hidden + c] = 0.5 * u * (1 + Math.tanh(GELU_C * (u + GELU_K * u ** 3)))
    }
    const down = matmul(up, rows, get(`l${i}.mlp.w2`), hidden, D)
    const b2 = get(`l${i}.mlp.b2`)
    for (let r = 0; r < rows; r++) for (let c = 0; c < D; c++) down[r * D + c] = (down[r * D + c] as number) + (b2[c] as number)
    addInto(x, down)
  }
  x = layerNorm(x, rows, get('lnf.g'), get('lnf.b'))

  if (config.kind === 'lm') {
    const logits = new Float64Array(rows * config.vocab)
    for (let r = 0; r < rows; r++) for (let w = 0; w < config.vocab; w++) {
      let dot = 0
      for (let k = 0; k < D; k++) dot += (x[r * D + k] as number) * (tok[w * D + k] as number)
      logits[r * config.vocab + w] = dot
    }
    return logits
  }
  if (mask === undefined) throw new Error('a classifier needs a mask')
  const pooled = new Float64Array(batch * D)
  for (let bi = 0; bi < batch; bi++) {
    let count = 0
    for (let t = 0; t < length; t++) {
      const m = mask[bi * length + t] as number
      count += m
      for (let k = 0; k < D; k++) pooled[bi * D + k] = (pooled[bi * D + k] as number) + m * (x[(bi * length + t) * D + k] as number)
    }
    for (let k = 0; k < D; k++) pooled[bi * D + k] = (pooled[bi * D + k] as number) / count
  }
  const logits = matmul(pooled, batch, get('cls.w'), D, config.classes)
  const bias = get('cls.b')
  for (let bi = 0; bi < batch; bi++) for (let c = 0; c < config.classes; c++) logits[bi * config.classes + c] = (logits[bi * config.classes + c] as number) + (bias[c] as number)
  return logits
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)))
  return max
}
