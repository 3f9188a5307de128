// The engine behind forward.ts and backward.ts: one sequence at a time through the model of
// config.ts, with every activation kept in preallocated buffers so the backward pass can reuse
// them, and gradients computed by hand. Rounding rule: each operation of config.ts's math stores
// its result as float32 (as an ONNX graph of the same ops would). Matrix products run in the
// WebAssembly kernel (SIMD, or its scalar twin where SIMD is missing) under the rule of kernels.ts
// (float32 accumulators, ascending k, product rounded then sum rounded); the other sums inside an
// operation (attention dot products, means, softmax denominators, bias gradients) run in doubles
// in ascending index order. The big weights are copied into the engine's kernel workspace when
// bound. Nothing here allocates per token, reads a clock or depends on iteration order of anything
// unordered.
import { MlError } from '../errors.ts'
import { exp, log, tanh } from '../math.ts'
import { KernelWorkspace, type FloatAllocator } from '../wasm/workspace.ts'
import { GELU_C, GELU_K, LN_EPSILON, adapterShapes, paramShapes, type ModelConfig, type Tensors } from './config.ts'
import { columnSums, transpose } from './kernels.ts'
import { checkConfig, expectTensors } from './params.ts'

/** What a gradient is taken with respect to: the adapter (plus a classifier's head) or every base parameter. */
export type GradientMode = 'lora' | 'all'

/** A layer's base weights: the matrices as workspace copies (…T: transposes, made for the backward pass), the vectors as bound. */
interface LayerBase {
  ln1g: Float32Array; ln1b: Float32Array
  wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array
  wqT: Float32Array; wkT: Float32Array; wvT: Float32Array; woT: Float32Array
  ln2g: Float32Array; ln2b: Float32Array
  w1: Float32Array; w1T: Float32Array; b1: Float32Array
  w2: Float32Array; w2T: Float32Array; b2: Float32Array
}

interface LayerLora {
  aq: Float32Array; aqT: Float32Array; bq: Float32Array; bqT: Float32Array
  av: Float32Array; avT: Float32Array; bv: Float32Array; bvT: Float32Array
}

interface LayerCache {
  input: Float32Array
  xhat1: Float32Array; rstd1: Float64Array; h1: Float32Array
  q: Float32Array; k: Float32Array; v: Float32Array
  uq: Float32Array; uv: Float32Array
  probs: Float32Array
  att: Float32Array
  xmid: Float32Array
  xhat2: Float32Array; rstd2: Float64Array; h2: Float32Array
  z: Float32Array; g: Float32Array
  /** per-head views (head j starts at column j·E; probs at head j's [context, context] block) */
  qHeads: Float32Array[]; kHeads: Float32Array[]; vHeads: Float32Array[]; attHeads: Float32Array[]; probsHeads: Float32Array[]
}

/** Every float32 buffer of an engine, laid out in its kernel workspace. */
interface Buffers {
  layers: LayerBase[]
  lora: LayerLora[]
  cache: LayerCache[]
  tokEmb: Float32Array
  clsW: Float32Array
  x0: Float32Array
  /** layer l's output, kept per layer so the backward pass still sees every layer's input */
  residual: Float32Array[]
  xhatF: Float32Array
  xf: Float32Array
  /** xfᵀ [D, context]: the LM head's right operand */
  xfT: Float32Array
  logits: Float32Array
  pooled: Float32Array
  clsLogits: Float32Array
  tmpD: Float32Array
  dres: Float32Array
  dxmid: Float32Array
  dh: Float32Array
  dq: Float32Array
  dk: Float32Array
  dv: Float32Array
  datt: Float32Array
  dg: Float32Array
  du: Float32Array
  /** kᵀ or vᵀ of one layer, [D, context] with row stride context */
  kvT: Float32Array
  /** a [T, T] block: attention scores, then their gradients */
  square: Float32Array
  kvTHeads: Float32Array[]; dqHeads: Float32Array[]; dkHeads: Float32Array[]; dvHeads: Float32Array[]; dattHeads: Float32Array[]
  /** a weight gradient before it is copied out to the caller's view */
  grad: Float32Array
}

function layoutBuffers(config: ModelConfig, rank: number, floats: FloatAllocator): Buffers {
  const { context: C, dim: D, hidden: H, vocab: V, classes, layers: L } = config
  const r = Math.max(rank, 1)
  const E = D / config.heads
  const heads = (x: Float32Array, stride: number) => Array.from({ length: config.heads }, (_, j) => x.subarray(j * stride))
  const vectors: Pick<LayerBase, 'ln1g' | 'ln1b' | 'ln2g' | 'ln2b' | 'b1' | 'b2'> = {
    ln1g: new Float32Array(0), ln1b: new Float32Array(0), ln2g: new Float32Array(0), ln2b: new Float32Array(0), b1: new Float32Array(0), b2: new Float32Array(0),
  }
  const layers = Array.from({ length: L }, (): LayerBase => ({
    ...vectors,
    wq: floats(D * D), wk: floats(D * D), wv: floats(D * D), wo: floats(D * D),
    wqT: floats(D * D), wkT: floats(D * D), wvT: floats(D * D), woT: floats(D * D),
    w1: floats(D * H), w1T: floats(H * D), w2: floats(H * D), w2T: floats(D * H),
  }))
  const lora = Array.from({ length: rank > 0 ? L : 0 }, (): LayerLora => ({
    aq: floats(D * r), aqT: floats(r * D), bq: floats(r * D), bqT: floats(D * r),
    av: floats(D * r), avT: floats(r * D), bv: floats(r * D), bvT: floats(D * r),
  }))
  const cache = Array.from({ length: L }, (): LayerCache => {
    const q = floats(C * D)
    const k = floats(C * D)
    const v = floats(C * D)
    const probs = floats(config.heads * C * C)
    const att = floats(C * D)
    return {
      input: new Float32Array(0),
      xhat1: floats(C * D), rstd1: new Float64Array(C), h1: floats(C * D),
      q, k, v,
      uq: floats(C * r), uv: floats(C * r),
      probs, att,
      xmid: floats(C * D),
      xhat2: floats(C * D), rstd2: new Float64Array(C), h2: floats(C * D),
      z: floats(C * H), g: floats(C * H),
      qHeads: heads(q, E), kHeads: heads(k, E), vHeads: heads(v, E), attHeads: heads(att, E), probsHeads: heads(probs, C * C),
    }
  })
  const lm = config.kind === 'lm'
  // an LM's all-parameter gradient needs room for tok_emb's; every other one fits D × max(D, H)
  const gradSize = Math.max(D * Math.max(D, H, r), lm && rank === 0 ? V * D : 0)
  const kvT = floats(D * C)
  const dq = floats(C * D)
  const dk = floats(C * D)
  const dv = floats(C * D)
  const datt = floats(C * D)
  return {
    layers, lora, cache,
    tokEmb: floats(V * D),
    clsW: floats(D * classes),
    x0: floats(C * D),
    residual: Array.from({ length: L }, () => floats(C * D)),
    xhatF: floats(C * D), xf: floats(C * D), xfT: floats(D * C),
    logits: floats(lm ? C * V : 0),
    pooled: floats(D), clsLogits: floats(classes),
    tmpD: floats(C * D), dres: floats(C * D), dxmid: floats(C * D), dh: floats(C * D),
    dq, dk, dv, datt,
    dg: floats(C * H), du: floats(C * r),
    kvT, square: floats(C * C),
    kvTHeads: heads(kvT, E * C), dqHeads: heads(dq, E), dkHeads: heads(dk, E), dvHeads: heads(dv, E), dattHeads: heads(datt, E),
    grad: floats(gradSize),
  }
}

export function configKey(config: ModelConfig, rank: number): string {
  return `${config.kind}/${config.vocab}/${config.context}/${config.dim}/${config.layers}/${config.heads}/${config.hidden}/${config.classes}/${rank}`
}

/** The shapes a gradient of this mode covers, in canonical order (the flat gradient layout). */
export function gradientShapes(config: ModelConfig, mode: GradientMode, rank: number): Array<[string, number[]]> {
  return mode === 'all' ? paramShapes(config) : adapterShapes(config, { rank, alpha: 1 })
}

/** Views into a flat gradient buffer, one per tensor of `shapes`. */
export function gradientViews(shapes: Array<[string, number[]]>, flat: Float32Array): Map<string, Float32Array> {
  const views = new Map<string, Float32Array>()
  let offset = 0
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1)
    views.set(name, flat.subarray(offset, offset + size))
    offset += size
  }
  return views
}

function view(views: ReadonlyMap<string, Float32Array>, name: string): Float32Array {
  const tensor = views.get(name)
  if (tensor === undefined) throw new MlError('MISSING_TENSOR', `gradient view ${name} is missing`, { details: { name } })
  return tensor
}

export class Engine {
  readonly config: ModelConfig
  readonly rank: number
  readonly #C: number
  readonly #D: number
  readonly #H: number // MLP width
  readonly #V: number
  readonly #E: number // head width
  readonly #sqrtE: number
  readonly #workspace: KernelWorkspace<Buffers>
  readonly #b: Buffers
  #scale = 0
  #hasAdapter = false
  /** whether the base matrices' transposes (read only by the backward pass) match the bound weights */
  #transposed = false
  #posEmb: Float32Array = new Float32Array(0)
  #lnfg: Float32Array = new Float32Array(0)
  #lnfb: Float32Array = new Float32Array(0)
  #clsB: Float32Array = new Float32Array(0)
  readonly #rstdF: Float64Array
  #T = 0
  #ids: Int32Array = new Int32Array(0)
  #mask: Float32Array | undefined
  #maskSum = 0
  // scratch
  readonly #scores: Float64Array
  readonly #acc: Float64Array

  constructor(config: ModelConfig, rank: number) {
    checkConfig(config)
    this.config = config
    this.rank = rank
    const C = (this.#C = config.context)
    const D = (this.#D = config.dim)
    const H = (this.#H = config.hidden)
    const V = (this.#V = config.vocab)
    const E = (this.#E = D / config.heads)
    this.#sqrtE = Math.sqrt(E)
    this.#workspace = new KernelWorkspace((floats) => layoutBuffers(config, rank, floats))
    this.#b = this.#workspace.buffers
    this.#rstdF = new Float64Array(C)
    this.#scores = new Float64Array(C)
    this.#acc = new Float64Array(Math.max(D, H, V, config.classes))
  }

  /** c [n, m] (+)= a [n, k] · b [k, m], all row-major workspace buffers. */
  #mm(a: Float32Array, b: Float32Array, c: Float32Array, n: number, m: number, k: number, accumulate: boolean): void {
    this.#workspace.matmul(a, k, 1, b, m, c, m, 1, n, m, k, accumulate)
  }

  /** Binds base weights (checked), copying the matrices into the workspace. */
  setBase(base: Tensors): void {
    const config = this.config
    const shapes = paramShapes(config)
    const tensors = expectTensors(shapes, base)
    const get = (name: string) => tensors[shapes.findIndex(([n]) => n === name)] as Float32Array
    const b = this.#b
    b.tokEmb.set(get('tok_emb'))
    this.#hasAdapter = false
    this.#transposed = false
    this.#posEmb = get('pos_emb')
    for (let l = 0; l < config.layers; l++) {
      const layer = b.layers[l]!
      const p = `l${l}.`
      layer.wq.set(get(p + 'attn.wq'))
      layer.wk.set(get(p + 'attn.wk'))
      layer.wv.set(get(p + 'attn.wv'))
      layer.wo.set(get(p + 'attn.wo'))
      layer.w1.set(get(p + 'mlp.w1'))
      layer.w2.set(get(p + 'mlp.w2'))
      layer.ln1g = get(p + 'ln1.g')
      layer.ln1b = get(p + 'ln1.b')
      layer.ln2g = get(p + 'ln2.g')
      layer.ln2b = get(p + 'ln2.b')
      layer.b1 = get(p + 'mlp.b1')
      layer.b2 = get(p + 'mlp.b2')
    }
    this.#lnfg = get('lnf.g')
    this.#lnfb = get('lnf.b')
    if (config.kind === 'classifier') this.#setHead(get('cls.w'), get('cls.b'))
  }

  /** The transposes dy·Wᵀ reads, made on the first backward pass after weights are bound. */
  #ensureTransposes(): void {
    if (this.#transposed) return
    const D = this.#D
    const H = this.#H
    for (const layer of this.#b.layers) {
      transpose(layer.wq, D, D, layer.wqT)
      transpose(layer.wk, D, D, layer.wkT)
      transpose(layer.wv, D, D, layer.wvT)
      transpose(layer.wo, D, D, layer.woT)
      transpose(layer.w1, D, H, layer.w1T)
      transpose(layer.w2, H, D, layer.w2T)
    }
    this.#transposed = true
  }

  #setHead(w: Float32Array, b: Float32Array): void {
    this.#b.clsW.set(w)
    this.#clsB = b
  }

  /**
   * Binds an adapter (rank must match this engine's) with its scale alpha/rank, or none. A
   * classifier adapter's cls.w/cls.b replace the base head, so call setBase first.
   */
  setAdapter(adapter: Tensors | undefined, scale: number, base: Tensors): void {
    if (adapter === undefined) {
      this.#hasAdapter = false
      if (this.config.kind === 'classifier') this.#setHead(base.get('cls.w') as Float32Array, base.get('cls.b') as Float32Array)
      return
    }
    if (this.rank < 1) throw new MlError('INVALID_ARGUMENT', 'this engine was built without an adapter rank')
    if (!Number.isFinite(scale)) throw new MlError('INVALID_ARGUMENT', 'the adapter scale must be finite', { details: { scale } })
    const shapes = adapterShapes(this.config, { rank: this.rank, alpha: 1 })
    const tensors = expectTensors(shapes, adapter)
    const get = (name: string) => tensors[shapes.findIndex(([n]) => n === name)] as Float32Array
    const D = this.#D
    const r = this.rank
    for (let l = 0; l < this.config.layers; l++) {
      const layer = this.#b.lora[l]!
      const p = `l${l}.attn.`
      layer.aq.set(get(p + 'wq.lora_a'))
      layer.bq.set(get(p + 'wq.lora_b'))
      layer.av.set(get(p + 'wv.lora_a'))
      layer.bv.set(get(p + 'wv.lora_b'))
      transpose(layer.aq, D, r, layer.aqT)
      transpose(layer.bq, r, D, layer.bqT)
      transpose(layer.av, D, r, layer.avT)
      transpose(layer.bv, r, D, layer.bvT)
    }
    this.#scale = scale
    this.#hasAdapter = true
    if (this.config.kind === 'classifier') this.#setHead(get('cls.w'), get('cls.b'))
  }

  get length(): number {
    return this.#T
  }

  /** LM logits [T, vocab] of the last forward pass (a view into the workspace). */
  get logits(): Float32Array {
    return this.#b.logits.subarray(0, this.#T * this.#V)
  }

  /** Classifier logits [classes] of the last forward pass (a view into the workspace). */
  get classLogits(): Float32Array {
    return this.#b.clsLogits
  }

  /** A classifier's pooled vector [dim] of the last forward pass: the input of cls.w, the features attribution's KNN-Shapley reads (a view into the workspace). */
  get pooled(): Float32Array {
    return this.#b.pooled
  }

  /** Runs one sequence of T ≤ context token ids; mask (classifier pooling) defaults to all ones. */
  forward(ids: Int32Array, mask?: Float32Array): void {
    const T = ids.length
    const { vocab, kind } = this.config
    const D = this.#D
    const b = this.#b
    if (T < 1 || T > this.#C) throw new MlError('INVALID_ARGUMENT', 'sequence length must be in [1, context]', { details: { length: T, context: this.#C } })
    this.#T = T
    this.#ids = ids
    this.#mask = mask
    // embeddings
    const x0 = b.x0
    const tok = b.tokEmb
    const pos = this.#posEmb
    for (let t = 0; t < T; t++) {
      const id = ids[t]!
      if (!(id >= 0 && id < vocab)) throw new MlError('INVALID_DATA', 'token id out of the vocabulary', { details: { position: t, id, vocab } })
      const to = id * D
      const o = t * D
      for (let d = 0; d < D; d++) x0[o + d] = tok[to + d]! + pos[o + d]!
    }
    let x = x0
    for (let l = 0; l < this.config.layers; l++) x = this.#forwardLayer(l, x, T)
    layerNorm(x, T, D, this.#lnfg, this.#lnfb, b.xhatF, this.#rstdF, b.xf)
    if (kind === 'lm') {
      // logitsᵀ [V, T] = tok_emb · xfᵀ, stored transposed into logits [T, V]: the kernel then
      // streams tok_emb once while xfᵀ stays in cache, and no transpose of tok_emb is needed
      const V = this.#V
      transpose(b.xf, T, D, b.xfT)
      this.#workspace.matmul(b.tokEmb, D, 1, b.xfT, T, b.logits, 1, V, V, T, D, false)
    } else {
      const C = this.config.classes
      let maskSum = 0
      const pooled = this.#acc
      for (let d = 0; d < D; d++) pooled[d] = 0
      for (let t = 0; t < T; t++) {
        const m = mask === undefined ? 1 : mask[t]!
        if (!(m >= 0 && m <= 1)) throw new MlError('INVALID_DATA', 'mask values must be in [0, 1]', { details: { position: t } })
        if (m === 0) continue
        maskSum += m
        const o = t * D
        for (let d = 0; d < D; d++) pooled[d] = pooled[d]! + m * b.xf[o + d]!
      }
      if (maskSum === 0) throw new MlError('INVALID_DATA', 'a classifier example needs at least one unmasked token')
      this.#maskSum = maskSum
      for (let d = 0; d < D; d++) b.pooled[d] = pooled[d]! / maskSum
      this.#mm(b.pooled, b.clsW, b.clsLogits, 1, C, D, false)
      for (let c = 0; c < C; c++) b.clsLogits[c] = b.clsLogits[c]! + this.#clsB[c]!
    }
  }

  #forwardLayer(l: number, x: Float32Array, T: number): Float32Array {
    const D = this.#D
    const H = this.#H
    const b = this.#b
    const w = b.layers[l]!
    const c = b.cache[l]!
    c.input = x
    layerNorm(x, T, D, w.ln1g, w.ln1b, c.xhat1, c.rstd1, c.h1)
    this.#mm(c.h1, w.wq, c.q, T, D, D, false)
    this.#mm(c.h1, w.wk, c.k, T, D, D, false)
    this.#mm(c.h1, w.wv, c.v, T, D, D, false)
    if (this.#hasAdapter) {
      const lora = b.lora[l]!
      this.#addLora(c.h1, lora.aq, lora.bq, c.uq, c.q, T)
      this.#addLora(c.h1, lora.av, lora.bv, c.uv, c.v, T)
    }
    this.#attention(c, T)
    const tmp = b.tmpD
    this.#mm(c.att, w.wo, tmp, T, D, D, false)
    const xmid = c.xmid
    for (let i = 0; i < T * D; i++) xmid[i] = x[i]! + tmp[i]!
    layerNorm(xmid, T, D, w.ln2g, w.ln2b, c.xhat2, c.rstd2, c.h2)
    const z = c.z
    const g = c.g
    this.#mm(c.h2, w.w1, z, T, H, D, false)
    const b1 = w.b1
    for (let t = 0; t < T; t++) {
      const o = t * H
      for (let j = 0; j < H; j++) {
        const zz = (z[o + j] = z[o + j]! + b1[j]!)
        g[o + j] = 0.5 * zz * (1 + tanh(GELU_C * (zz + GELU_K * zz * zz * zz)))
      }
    }
    this.#mm(g, w.w2, tmp, T, D, H, false)
    const out = b.residual[l]!
    const b2 = w.b2
    for (let t = 0; t < T; t++) {
      const o = t * D
      for (let d = 0; d < D; d++) {
        tmp[o + d] = tmp[o + d]! + b2[d]!
        out[o + d] = xmid[o + d]! + tmp[o + d]!
      }
    }
    return out
  }

  /** y += fl32(s · ((h·A)·B)), keeping u = h·A for the backward pass. */
  #addLora(h: Float32Array, a: Float32Array, b: Float32Array, u: Float32Array, y: Float32Array, T: number): void {
    const D = this.#D
    const r = this.rank
    const tmp = this.#b.tmpD
    this.#mm(h, a, u, T, r, D, false)
    this.#mm(u, b, tmp, T, D, r, false)
    const s = this.#scale
    for (let i = 0; i < T * D; i++) y[i] = y[i]! + Math.fround(s * tmp[i]!)
  }

  /**
   * Causal attention, per head: the scores S = q_h·k_hᵀ and o_h = P·v_h are kernel products (P is 0
   * past the diagonal, and a float32 sum that adds f32(0·x) for finite x keeps its bits); scaling
   * and softmax run in doubles per row.
   */
  #attention(c: LayerCache, T: number): void {
    const C = this.#C
    const D = this.#D
    const E = this.#E
    const sqrtE = this.#sqrtE
    const workspace = this.#workspace
    const { probs } = c
    const { square, kvTHeads } = this.#b
    const scores = this.#scores
    transposeStrided(c.k, T, D, this.#b.kvT, C)
    for (let head = 0; head < this.config.heads; head++) {
      const po = head * C * C
      workspace.matmul(c.qHeads[head]!, D, 1, kvTHeads[head]!, C, square, T, 1, T, T, E, false)
      for (let t = 0; t < T; t++) {
        const so = t * T
        let max = -Infinity
        for (let u = 0; u <= t; u++) {
          const s = square[so + u]! / sqrtE
          scores[u] = s
          if (s > max) max = s
        }
        if (max !== max || max === Infinity) throw new MlError('NON_FINITE', 'attention score is not finite')
        let sum = 0
        for (let u = 0; u <= t; u++) {
          const ex = exp(scores[u]! - max)
          scores[u] = ex
          sum += ex
        }
        const row = po + t * C
        for (let u = 0; u <= t; u++) probs[row + u] = scores[u]! / sum
        probs.fill(0, row + t + 1, row + T)
      }
      workspace.matmul(c.probsHeads[head]!, C, 1, c.vHeads[head]!, D, c.attHeads[head]!, D, 1, T, E, T, false)
    }
  }

  /**
   * Mean next-token cross-entropy of the last forward pass (LM; targets are the ids shifted by
   * one, T − 1 of them). With `withGradient` the logits buffer is replaced by d loss / d logits.
   */
  lmLoss(withGradient: boolean): number {
    const T = this.#T
    const V = this.#V
    if (T < 2) throw new MlError('INVALID_DATA', 'a language-model sequence needs at least two tokens')
    const logits = this.#b.logits
    const ids = this.#ids
    const n = T - 1
    let total = 0
    for (let t = 0; t < n; t++) {
      const o = t * V
      const target = ids[t + 1]!
      let max = -Infinity
      for (let j = 0; j < V; j++) if (logits[o + j]! > max) max = logits[o + j]!
      if (max - max !== 0) throw new MlError('NON_FINITE', 'a logit is not finite', { details: { position: t } })
      const targetLogit = logits[o + target]!
      let sum = 0
      if (withGradient) {
        for (let j = 0; j < V; j++) {
          const ex = exp(logits[o + j]! - max)
          logits[o + j] = ex
          sum += ex
        }
        for (let j = 0; j < V; j++) logits[o + j] = logits[o + j]! / sum / n
        logits[o + target] = logits[o + target]! - 1 / n
      } else {
        for (let j = 0; j < V; j++) sum += exp(logits[o + j]! - max)
      }
      total += max + log(sum) - targetLogit
    }
    if (withGradient) logits.fill(0, n * V, T * V)
    const loss = total / n
    if (loss - loss !== 0) throw new MlError('NON_FINITE', 'the loss is not finite')
    return loss
  }

  /** Cross-entropy of the last classifier forward pass against `label`; with `withGradient` the logits become d loss / d logits. */
  classifierLoss(label: number, withGradient: boolean): number {
    const C = this.config.classes
    if (!Number.isInteger(label) || label < 0 || label >= C) throw new MlError('INVALID_DATA', 'label out of range', { details: { label, classes: C } })
    const logits = this.#b.clsLogits
    let max = -Infinity
    for (let c = 0; c < C; c++) if (logits[c]! > max) max = logits[c]!
    if (max - max !== 0) throw new MlError('NON_FINITE', 'a logit is not finite')
    let sum = 0
    for (let c = 0; c < C; c++) sum += exp(logits[c]! - max)
    const loss = max + log(sum) - logits[label]!
    if (withGradient) {
      for (let c = 0; c < C; c++) logits[c] = exp(logits[c]! - max) / sum
      logits[label] = logits[label]! - 1
    }
    return loss
  }

  /** Index of the largest classifier logit (the first one on ties). */
  predictedClass(): number {
    const logits = this.#b.clsLogits
    let best = 0
    for (let c = 1; c < logits.length; c++) if (logits[c]! > logits[best]!) best = c
    return best
  }

  /**
   * Backpropagates d loss / d logits (left in the logits buffer by lmLoss/classifierLoss) through
   * the last forward pass, writing (not adding) every gradient of `mode` into `grads`.
   */
  backward(mode: GradientMode, grads: ReadonlyMap<string, Float32Array>): void {
    const T = this.#T
    const D = this.#D
    const all = mode === 'all'
    if (!all && !this.#hasAdapter) throw new MlError('INVALID_ARGUMENT', 'a lora gradient needs an adapter bound')
    if (all && this.#hasAdapter) throw new MlError('INVALID_ARGUMENT', 'an all-parameter gradient is taken without an adapter')
    const b = this.#b
    this.#ensureTransposes()
    const dxf = b.dh
    if (this.config.kind === 'lm') {
      const V = this.#V
      const dl = b.logits
      this.#mm(dl, b.tokEmb, dxf, T, D, V, false)
      if (all) {
        // tok_emb's head gradient dlᵀ·xf [V, D], dl read down its columns
        this.#workspace.matmul(dl, 1, V, b.xf, D, b.grad, D, 1, V, D, T, false)
        view(grads, 'tok_emb').set(b.grad.subarray(0, V * D))
      }
    } else {
      const C = this.config.classes
      const dl = b.clsLogits
      const dpooled = this.#acc
      for (let d = 0; d < D; d++) {
        let s = 0
        const o = d * C
        for (let c = 0; c < C; c++) s += dl[c]! * b.clsW[o + c]!
        dpooled[d] = s
      }
      const gw = view(grads, 'cls.w')
      for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) gw[d * C + c] = b.pooled[d]! * dl[c]!
      view(grads, 'cls.b').set(dl)
      const mask = this.#mask
      const maskSum = this.#maskSum
      for (let t = 0; t < T; t++) {
        const m = mask === undefined ? 1 : mask[t]!
        const o = t * D
        for (let d = 0; d < D; d++) dxf[o + d] = (m * dpooled[d]!) / maskSum
      }
    }
    // final LayerNorm
    const dres = b.dres
    layerNormBackward(dxf, T, D, b.xhatF, this.#rstdF, this.#lnfg, dres, false, this.#acc)
    if (all) layerNormParamGrads(dxf, b.xhatF, T, D, view(grads, 'lnf.g'), view(grads, 'lnf.b'), this.#acc)
    for (let l = this.config.layers - 1; l >= 0; l--) this.#backwardLayer(l, T, mode, grads)
    if (all) {
      // embeddings: an LM's tok_emb already holds the tied head's gradient
      const gTok = view(grads, 'tok_emb')
      if (this.config.kind !== 'lm') gTok.fill(0)
      const gPos = view(grads, 'pos_emb')
      gPos.fill(0)
      const ids = this.#ids
      for (let t = 0; t < T; t++) {
        const to = ids[t]! * D
        const o = t * D
        for (let d = 0; d < D; d++) {
          gTok[to + d] = gTok[to + d]! + dres[o + d]!
          gPos[o + d] = dres[o + d]!
        }
      }
    }
  }

  #backwardLayer(l: number, T: number, mode: GradientMode, grads: ReadonlyMap<string, Float32Array>): void {
    const D = this.#D
    const H = this.#H
    const all = mode === 'all'
    const b = this.#b
    const w = b.layers[l]!
    const c = b.cache[l]!
    const p = `l${l}.`
    const dres = b.dres // d loss / d (layer output); becomes d loss / d (layer input)
    // MLP: out = xmid + GELU(h2·w1 + b1)·w2 + b2
    const dg = b.dg
    this.#mm(dres, w.w2T, dg, T, H, D, false)
    if (all) {
      this.#weightGrad(c.g, dres, T, H, D, view(grads, p + 'mlp.w2'))
      columnSums(dres, T, D, view(grads, p + 'mlp.b2'), this.#acc)
    }
    const z = c.z
    for (let i = 0; i < T * H; i++) {
      const x = z[i]!
      const x2 = x * x
      const th = tanh(GELU_C * (x + GELU_K * x2 * x))
      dg[i] = dg[i]! * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_C * (1 + 3 * GELU_K * x2))
    }
    const dh2 = b.dh
    this.#mm(dg, w.w1T, dh2, T, D, H, false)
    if (all) {
      this.#weightGrad(c.h2, dg, T, D, H, view(grads, p + 'mlp.w1'))
      columnSums(dg, T, H, view(grads, p + 'mlp.b1'), this.#acc)
      layerNormParamGrads(dh2, c.xhat2, T, D, view(grads, p + 'ln2.g'), view(grads, p + 'ln2.b'), this.#acc)
    }
    const dxmid = b.dxmid
    dxmid.set(dres.subarray(0, T * D))
    layerNormBackward(dh2, T, D, c.xhat2, c.rstd2, w.ln2g, dxmid, true, this.#acc)
    // attention: xmid = x + att·wo
    const datt = b.datt
    this.#mm(dxmid, w.woT, datt, T, D, D, false)
    if (all) this.#weightGrad(c.att, dxmid, T, D, D, view(grads, p + 'attn.wo'))
    this.#attentionBackward(c, T)
    const dh = b.dh
    this.#mm(b.dq, w.wqT, dh, T, D, D, false)
    this.#mm(b.dk, w.wkT, dh, T, D, D, true)
    this.#mm(b.dv, w.wvT, dh, T, D, D, true)
    if (all) {
      this.#weightGrad(c.h1, b.dq, T, D, D, view(grads, p + 'attn.wq'))
      this.#weightGrad(c.h1, b.dk, T, D, D, view(grads, p + 'attn.wk'))
      this.#weightGrad(c.h1, b.dv, T, D, D, view(grads, p + 'attn.wv'))
    } else {
      const lora = b.lora[l]!
      this.#loraBackward(c.h1, c.uq, lora.aqT, lora.bqT, b.dq, T, dh, view(grads, p + 'attn.wq.lora_a'), view(grads, p + 'attn.wq.lora_b'))
      this.#loraBackward(c.h1, c.uv, lora.avT, lora.bvT, b.dv, T, dh, view(grads, p + 'attn.wv.lora_a'), view(grads, p + 'attn.wv.lora_b'))
    }
    if (all) layerNormParamGrads(dh, c.xhat1, T, D, view(grads, p + 'ln1.g'), view(grads, p + 'ln1.b'), this.#acc)
    dres.set(dxmid.subarray(0, T * D))
    layerNormBackward(dh, T, D, c.xhat1, c.rstd1, w.ln1g, dres, true, this.#acc)
  }

  /** dW [K, M] = Xᵀ·DY for X [T, K] and DY [T, M] (X read down its columns; sums over positions in ascending order). */
  #weightGrad(x: Float32Array, dy: Float32Array, T: number, K: number, M: number, out: Float32Array): void {
    const grad = this.#b.grad
    this.#workspace.matmul(x, 1, K, dy, M, grad, M, 1, K, M, T, false)
    out.set(grad.subarray(0, K * M))
  }

  /** y = … + s·(u·B), u = h·A: gradients of A and B, and dh += du·Aᵀ (aT = Aᵀ [r, D], bT = Bᵀ [D, r]). */
  #loraBackward(h: Float32Array, u: Float32Array, aT: Float32Array, bT: Float32Array, dy: Float32Array, T: number, dh: Float32Array, gradA: Float32Array, gradB: Float32Array): void {
    const D = this.#D
    const r = this.rank
    const s = this.#scale
    const sdy = this.#b.tmpD
    for (let i = 0; i < T * D; i++) sdy[i] = s * dy[i]!
    const du = this.#b.du
    this.#mm(sdy, bT, du, T, r, D, false)
    this.#weightGrad(u, sdy, T, r, D, gradB)
    this.#weightGrad(h, du, T, D, r, gradA)
    this.#mm(du, aT, dh, T, D, r, true)
  }

  /** dP = datt_h·v_hᵀ, dS = P∘(dP − rowsum(P∘dP))/√E, dq_h = dS·k_h, dk_h = dSᵀ·q_h, dv_h = Pᵀ·datt_h per head. */
  #attentionBackward(c: LayerCache, T: number): void {
    const C = this.#C
    const D = this.#D
    const E = this.#E
    const sqrtE = this.#sqrtE
    const workspace = this.#workspace
    const { probs } = c
    const b = this.#b
    const dS = b.square
    transposeStrided(c.v, T, D, b.kvT, C)
    for (let head = 0; head < this.config.heads; head++) {
      const po = head * C * C
      const datt = b.dattHeads[head]!
      workspace.matmul(datt, D, 1, b.kvTHeads[head]!, C, dS, T, 1, T, T, E, false)
      for (let t = 0; t < T; t++) {
        const row = po + t * C
        const so = t * T
        let dot = 0
        for (let u = 0; u <= t; u++) dot += probs[row + u]! * dS[so + u]!
        for (let u = 0; u <= t; u++) dS[so + u] = (probs[row + u]! * (dS[so + u]! - dot)) / sqrtE
        dS.fill(0, so + t + 1, so + T)
      }
      workspace.matmul(dS, T, 1, c.kHeads[head]!, D, b.dqHeads[head]!, D, 1, T, E, T, false)
      workspace.matmul(dS, 1, T, c.qHeads[head]!, D, b.dkHeads[head]!, D, 1, T, E, T, false)
      workspace.matmul(c.probsHeads[head]!, 1, C, datt, D, b.dvHeads[head]!, D, 1, T, E, T, false)
    }
  }
}

/** dst[c·stride + r] = src[r·cols + c] for src [rows, cols]: a transpose whose rows keep a fixed stride. */
function transposeStrided(src: Float32Array, rows: number, cols: number, dst: Float32Array, stride: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols
    for (let c = 0; c < cols; c++) dst[c * stride + r] = src[base + c]!
  }
}

/** y = (x − mean)/sqrt(var + ε)·g + b per row; keeps x̂ and 1/σ for the backward pass. */
function layerNorm(x: Float32Array, T: number, D: number, g: Float32Array, b: Float32Array, xhat: Float32Array, rstd: Float64Array, y: Float32Array): void {
  for (let t = 0; t < T; t++) {
    const o = t * D
    let sum = 0
    for (let d = 0; d < D; d++) sum += x[o + d]!
    const mean = sum / D
    let sq = 0
    for (let d = 0; d < D; d++) {
      const c = x[o + d]! - mean
      sq += c * c
    }
    const r = 1 / Math.sqrt(sq / D + LN_EPSILON)
    rstd[t] = r
    for (let d = 0; d < D; d++) {
      const n = (x[o + d]! - mean) * r
      xhat[o + d] = n
      y[o + d] = n * g[d]! + b[d]!
    }
  }
}

/** dx (+)= (1/σ)·(dy·g − mean(dy·g) − x̂·mean(dy·g·x̂)) per row. */
function layerNormBackward(dy: Float32Array, T: number, D: number, xhat: Float32Array, rstd: Float64Array, g: Float32Array, dx: Float32Array, accumulate: boolean, scratch: Float64Array): void {
  for (let t = 0; t < T; t++) {
    const o = t * D
    let s1 = 0
    let s2 = 0
    for (let d = 0; d < D; d++) {
      const dn = dy[o + d]! * g[d]!
      scratch[d] = dn
      s1 += dn
      s2 += dn * xhat[o + d]!
    }
    const m1 = s1 / D
    const m2 = s2 / D
    const r = rstd[t]!
    for (let d = 0; d < D; d++) {
      const value = r * (scratch[d]! - m1 - xhat[o + d]! * m2)
      if (accumulate) dx[o + d] = dx[o + d]! + value
      else dx[o + d] = value
    }
  }
}

function layerNormParamGrads(dy: Float32Array, xhat: Float32Array, T: number, D: number, gradG: Float32Array, gradB: Float32Array, acc: Float64Array): void {
  for (let d = 0; d < D; d++) acc[d] = 0
  for (let t = 0; t < T; t++) {
    const o = t * D
    for (let d = 0; d < D; d++) acc[d] = acc[d]! + dy[o + d]! * xhat[o + d]!
  }
  for (let d = 0; d < D; d++) gradG[d] = acc[d]!
  columnSums(dy, T, D, gradB, acc)
}
