// The engine behind forward.ts and backward.ts: one sequence at a time through the model of
// config.ts, with every activation kept in preallocated buffers so the backward pass can reuse
// them, and gradients computed by hand. Rounding rule: each operation of config.ts's math stores
// its result as float32 (as an ONNX graph of the same ops would); sums inside an operation (dot
// products, means, softmax denominators) run in doubles in ascending index order. Nothing here
// allocates per token, reads a clock or depends on iteration order of anything unordered.
import { MlError } from '../errors.ts'
import { exp, log, tanh } from '../math.ts'
import { GELU_C, GELU_K, LN_EPSILON, adapterShapes, paramShapes, type ModelConfig, type Tensors } from './config.ts'
import { columnSums, matmulBt, transpose } from './kernels.ts'
import { checkConfig, expectTensors } from './params.ts'

/** What a gradient is taken with respect to: the adapter (plus a classifier's head) or every base parameter. */
export type GradientMode = 'lora' | 'all'

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
  #scale = 0
  #hasAdapter = false
  #layers: LayerBase[] = []
  #lora: LayerLora[] = []
  #tokEmb: Float32Array = new Float32Array(0)
  #tokEmbT: Float32Array | undefined
  #tokEmbTValid = false
  #posEmb: Float32Array = new Float32Array(0)
  #lnfg: Float32Array = new Float32Array(0)
  #lnfb: Float32Array = new Float32Array(0)
  #clsW: Float32Array = new Float32Array(0)
  #clsWT: Float32Array
  #clsB: Float32Array = new Float32Array(0)
  // activations of the last forward pass
  readonly #cache: LayerCache[]
  readonly #x0: Float32Array
  /** layer l's output, kept per layer so the backward pass still sees every layer's input */
  readonly #residual: Float32Array[]
  readonly #xhatF: Float32Array
  readonly #rstdF: Float64Array
  readonly #xf: Float32Array
  readonly #logits: Float32Array
  readonly #pooled: Float32Array
  readonly #clsLogits: Float32Array
  #T = 0
  #ids: Int32Array = new Int32Array(0)
  #mask: Float32Array | undefined
  #maskSum = 0
  // scratch
  readonly #tmpD: Float32Array
  readonly #scores: Float64Array
  readonly #dScores: Float64Array
  readonly #headAcc: Float64Array
  readonly #dkAcc: Float64Array
  readonly #dvAcc: Float64Array
  readonly #acc: Float64Array
  readonly #dres: Float32Array
  readonly #dxmid: Float32Array
  readonly #dh: Float32Array
  readonly #dq: Float32Array
  readonly #dk: Float32Array
  readonly #dv: Float32Array
  readonly #datt: Float32Array
  readonly #dg: Float32Array
  readonly #du: Float32Array
  readonly #colT: Float32Array
  readonly #rowT: Float32Array
  readonly #dlT: Float32Array

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
    const r = Math.max(rank, 1)
    this.#cache = []
    for (let l = 0; l < config.layers; l++) {
      this.#cache.push({
        input: new Float32Array(0),
        xhat1: new Float32Array(C * D), rstd1: new Float64Array(C), h1: new Float32Array(C * D),
        q: new Float32Array(C * D), k: new Float32Array(C * D), v: new Float32Array(C * D),
        uq: new Float32Array(C * r), uv: new Float32Array(C * r),
        probs: new Float32Array(config.heads * C * C),
        att: new Float32Array(C * D),
        xmid: new Float32Array(C * D),
        xhat2: new Float32Array(C * D), rstd2: new Float64Array(C), h2: new Float32Array(C * D),
        z: new Float32Array(C * H), g: new Float32Array(C * H),
      })
    }
    this.#x0 = new Float32Array(C * D)
    this.#residual = Array.from({ length: config.layers }, () => new Float32Array(C * D))
    this.#xhatF = new Float32Array(C * D)
    this.#rstdF = new Float64Array(C)
    this.#xf = new Float32Array(C * D)
    this.#logits = new Float32Array(config.kind === 'lm' ? C * V : 0)
    this.#pooled = new Float32Array(D)
    this.#clsLogits = new Float32Array(config.classes)
    this.#clsWT = new Float32Array(config.classes * D)
    const wide = Math.max(D, H)
    this.#tmpD = new Float32Array(C * D)
    this.#scores = new Float64Array(C)
    this.#dScores = new Float64Array(C)
    this.#headAcc = new Float64Array(E)
    this.#dkAcc = new Float64Array(C * E)
    this.#dvAcc = new Float64Array(C * E)
    this.#acc = new Float64Array(Math.max(wide, V, config.classes))
    this.#dres = new Float32Array(C * D)
    this.#dxmid = new Float32Array(C * D)
    this.#dh = new Float32Array(C * D)
    this.#dq = new Float32Array(C * D)
    this.#dk = new Float32Array(C * D)
    this.#dv = new Float32Array(C * D)
    this.#datt = new Float32Array(C * D)
    this.#dg = new Float32Array(C * H)
    this.#du = new Float32Array(C * r)
    this.#colT = new Float32Array(C * wide)
    this.#rowT = new Float32Array(C * wide)
    this.#dlT = new Float32Array(0)
    if (config.kind === 'lm') this.#dlT = new Float32Array(C * V)
  }

  /** Binds base weights (checked) and precomputes the transposes the kernels read. */
  setBase(base: Tensors): void {
    const config = this.config
    const shapes = paramShapes(config)
    const tensors = expectTensors(shapes, base)
    const get = (name: string) => tensors[shapes.findIndex(([n]) => n === name)] as Float32Array
    const D = this.#D
    const H = this.#H
    this.#tokEmb = get('tok_emb')
    this.#tokEmbTValid = false
    this.#hasAdapter = false
    this.#posEmb = get('pos_emb')
    const layers: LayerBase[] = []
    for (let l = 0; l < config.layers; l++) {
      const old = this.#layers[l]
      const p = `l${l}.`
      const layer: LayerBase = {
        ln1g: get(p + 'ln1.g'), ln1b: get(p + 'ln1.b'),
        wq: get(p + 'attn.wq'), wk: get(p + 'attn.wk'), wv: get(p + 'attn.wv'), wo: get(p + 'attn.wo'),
        wqT: old?.wqT ?? new Float32Array(D * D), wkT: old?.wkT ?? new Float32Array(D * D),
        wvT: old?.wvT ?? new Float32Array(D * D), woT: old?.woT ?? new Float32Array(D * D),
        ln2g: get(p + 'ln2.g'), ln2b: get(p + 'ln2.b'),
        w1: get(p + 'mlp.w1'), w1T: old?.w1T ?? new Float32Array(H * D), b1: get(p + 'mlp.b1'),
        w2: get(p + 'mlp.w2'), w2T: old?.w2T ?? new Float32Array(D * H), b2: get(p + 'mlp.b2'),
      }
      transpose(layer.wq, D, D, layer.wqT)
      transpose(layer.wk, D, D, layer.wkT)
      transpose(layer.wv, D, D, layer.wvT)
      transpose(layer.wo, D, D, layer.woT)
      transpose(layer.w1, D, H, layer.w1T)
      transpose(layer.w2, H, D, layer.w2T)
      layers.push(layer)
    }
    this.#layers = layers
    this.#lnfg = get('lnf.g')
    this.#lnfb = get('lnf.b')
    if (config.kind === 'classifier') this.#setHead(get('cls.w'), get('cls.b'))
  }

  #setHead(w: Float32Array, b: Float32Array): void {
    this.#clsW = w
    this.#clsB = b
    transpose(w, this.#D, this.config.classes, this.#clsWT)
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
    const lora: LayerLora[] = []
    for (let l = 0; l < this.config.layers; l++) {
      const old = this.#lora[l]
      const p = `l${l}.attn.`
      const layer: LayerLora = {
        aq: get(p + 'wq.lora_a'), aqT: old?.aqT ?? new Float32Array(r * D), bq: get(p + 'wq.lora_b'), bqT: old?.bqT ?? new Float32Array(D * r),
        av: get(p + 'wv.lora_a'), avT: old?.avT ?? new Float32Array(r * D), bv: get(p + 'wv.lora_b'), bvT: old?.bvT ?? new Float32Array(D * r),
      }
      transpose(layer.aq, D, r, layer.aqT)
      transpose(layer.bq, r, D, layer.bqT)
      transpose(layer.av, D, r, layer.avT)
      transpose(layer.bv, r, D, layer.bvT)
      lora.push(layer)
    }
    this.#lora = lora
    this.#scale = scale
    this.#hasAdapter = true
    if (this.config.kind === 'classifier') this.#setHead(get('cls.w'), get('cls.b'))
  }

  get length(): number {
    return this.#T
  }

  /** LM logits [T, vocab] of the last forward pass (a view into the workspace). */
  get logits(): Float32Array {
    return this.#logits.subarray(0, this.#T * this.#V)
  }

  /** Classifier logits [classes] of the last forward pass (a view into the workspace). */
  get classLogits(): Float32Array {
    return this.#clsLogits
  }

  /** Runs one sequence of T ≤ context token ids; mask (classifier pooling) defaults to all ones. */
  forward(ids: Int32Array, mask?: Float32Array): void {
    const T = ids.length
    const { vocab, kind } = this.config
    const D = this.#D
    if (T < 1 || T > this.#C) throw new MlError('INVALID_ARGUMENT', 'sequence length must be in [1, context]', { details: { length: T, context: this.#C } })
    this.#T = T
    this.#ids = ids
    this.#mask = mask
    // embeddings
    const x0 = this.#x0
    const tok = this.#tokEmb
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
    layerNorm(x, T, D, this.#lnfg, this.#lnfb, this.#xhatF, this.#rstdF, this.#xf)
    if (kind === 'lm') {
      matmulBt(this.#xf, this.#tokEmb, this.#logits, T, this.#V, D, false)
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
        for (let d = 0; d < D; d++) pooled[d] = pooled[d]! + m * this.#xf[o + d]!
      }
      if (maskSum === 0) throw new MlError('INVALID_DATA', 'a classifier example needs at least one unmasked token')
      this.#maskSum = maskSum
      for (let d = 0; d < D; d++) this.#pooled[d] = pooled[d]! / maskSum
      matmulBt(this.#pooled, this.#clsWT, this.#clsLogits, 1, C, D, false)
      for (let c = 0; c < C; c++) this.#clsLogits[c] = this.#clsLogits[c]! + this.#clsB[c]!
    }
  }

  #forwardLayer(l: number, x: Float32Array, T: number): Float32Array {
    const D = this.#D
    const H = this.#H
    const w = this.#layers[l]!
    const c = this.#cache[l]!
    c.input = x
    layerNorm(x, T, D, w.ln1g, w.ln1b, c.xhat1, c.rstd1, c.h1)
    matmulBt(c.h1, w.wqT, c.q, T, D, D, false)
    matmulBt(c.h1, w.wkT, c.k, T, D, D, false)
    matmulBt(c.h1, w.wvT, c.v, T, D, D, false)
    if (this.#hasAdapter) {
      const lora = this.#lora[l]!
      this.#addLora(c.h1, lora.aqT, lora.bqT, c.uq, c.q, T)
      this.#addLora(c.h1, lora.avT, lora.bvT, c.uv, c.v, T)
    }
    this.#attention(c, T)
    const tmp = this.#tmpD
    matmulBt(c.att, w.woT, tmp, T, D, D, false)
    const xmid = c.xmid
    for (let i = 0; i < T * D; i++) xmid[i] = x[i]! + tmp[i]!
    layerNorm(xmid, T, D, w.ln2g, w.ln2b, c.xhat2, c.rstd2, c.h2)
    const z = c.z
    const g = c.g
    matmulBt(c.h2, w.w1T, z, T, H, D, false)
    const b1 = w.b1
    for (let t = 0; t < T; t++) {
      const o = t * H
      for (let j = 0; j < H; j++) {
        const zz = (z[o + j] = z[o + j]! + b1[j]!)
        g[o + j] = 0.5 * zz * (1 + tanh(GELU_C * (zz + GELU_K * zz * zz * zz)))
      }
    }
    matmulBt(g, w.w2T, tmp, T, D, H, false)
    const out = this.#residual[l]!
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
  #addLora(h: Float32Array, aT: Float32Array, bT: Float32Array, u: Float32Array, y: Float32Array, T: number): void {
    const D = this.#D
    const r = this.rank
    const tmp = this.#tmpD
    matmulBt(h, aT, u, T, r, D, false)
    matmulBt(u, bT, tmp, T, D, r, false)
    const s = this.#scale
    for (let i = 0; i < T * D; i++) y[i] = y[i]! + Math.fround(s * tmp[i]!)
  }

  #attention(c: LayerCache, T: number): void {
    const D = this.#D
    const E = this.#E
    const C = this.#C
    const sqrtE = this.#sqrtE
    const { q, k, v, probs, att } = c
    const scores = this.#scores
    const acc = this.#headAcc
    for (let head = 0; head < this.config.heads; head++) {
      const ho = head * E
      const po = head * C * C
      for (let t = 0; t < T; t++) {
        const qo = t * D + ho
        let max = -Infinity
        for (let u = 0; u <= t; u++) {
          const ko = u * D + ho
          let s = 0
          for (let e = 0; e < E; e++) s += q[qo + e]! * k[ko + e]!
          s /= sqrtE
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
        for (let e = 0; e < E; e++) acc[e] = 0
        for (let u = 0; u <= t; u++) {
          probs[row + u] = scores[u]! / sum
          const p = probs[row + u]!
          const vo = u * D + ho
          for (let e = 0; e < E; e++) acc[e] = acc[e]! + p * v[vo + e]!
        }
        for (let e = 0; e < E; e++) att[qo + e] = acc[e]!
      }
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
    const logits = this.#logits
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
    const logits = this.#clsLogits
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
    const logits = this.#clsLogits
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
    const dxf = this.#dh
    if (this.config.kind === 'lm') {
      const V = this.#V
      const dl = this.#logits
      if (!this.#tokEmbTValid) {
        this.#tokEmbT ??= new Float32Array(D * V)
        transpose(this.#tokEmb, V, D, this.#tokEmbT)
        this.#tokEmbTValid = true
      }
      matmulBt(dl, this.#tokEmbT!, dxf, T, D, V, false)
      if (all) {
        transpose(dl, T, V, this.#dlT)
        transpose(this.#xf, T, D, this.#colT)
        matmulBt(this.#dlT, this.#colT, view(grads, 'tok_emb'), V, D, T, false)
      }
    } else {
      const C = this.config.classes
      const dl = this.#clsLogits
      const dpooled = this.#acc
      for (let d = 0; d < D; d++) {
        let s = 0
        const o = d * C
        for (let c = 0; c < C; c++) s += dl[c]! * this.#clsW[o + c]!
        dpooled[d] = s
      }
      const gw = view(grads, 'cls.w')
      for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) gw[d * C + c] = this.#pooled[d]! * dl[c]!
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
    const dres = this.#dres
    layerNormBackward(dxf, T, D, this.#xhatF, this.#rstdF, this.#lnfg, dres, false, this.#acc)
    if (all) layerNormParamGrads(dxf, this.#xhatF, T, D, view(grads, 'lnf.g'), view(grads, 'lnf.b'), this.#acc)
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
    const w = this.#layers[l]!
    const c = this.#cache[l]!
    const p = `l${l}.`
    const dres = this.#dres // d loss / d (layer output); becomes d loss / d (layer input)
    // MLP: out = xmid + GELU(h2·w1 + b1)·w2 + b2
    const dg = this.#dg
    matmulBt(dres, w.w2, dg, T, H, D, false)
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
    const dh2 = this.#dh
    matmulBt(dg, w.w1, dh2, T, D, H, false)
    if (all) {
      this.#weightGrad(c.h2, dg, T, D, H, view(grads, p + 'mlp.w1'))
      columnSums(dg, T, H, view(grads, p + 'mlp.b1'), this.#acc)
      layerNormParamGrads(dh2, c.xhat2, T, D, view(grads, p + 'ln2.g'), view(grads, p + 'ln2.b'), this.#acc)
    }
    const dxmid = this.#dxmid
    dxmid.set(dres.subarray(0, T * D))
    layerNormBackward(dh2, T, D, c.xhat2, c.rstd2, w.ln2g, dxmid, true, this.#acc)
    // attention: xmid = x + att·wo
    const datt = this.#datt
    matmulBt(dxmid, w.wo, datt, T, D, D, false)
    if (all) this.#weightGrad(c.att, dxmid, T, D, D, view(grads, p + 'attn.wo'))
    this.#attentionBackward(c, T)
    const dh = this.#dh
    matmulBt(this.#dq, w.wq, dh, T, D, D, false)
    matmulBt(this.#dk, w.wk, dh, T, D, D, true)
    matmulBt(this.#dv, w.wv, dh, T, D, D, true)
    if (all) {
      this.#weightGrad(c.h1, this.#dq, T, D, D, view(grads, p + 'attn.wq'))
      this.#weightGrad(c.h1, this.#dk, T, D, D, view(grads, p + 'attn.wk'))
      this.#weightGrad(c.h1, this.#dv, T, D, D, view(grads, p + 'attn.wv'))
    } else {
      const lora = this.#lora[l]!
      this.#loraBackward(c.h1, c.uq, lora.aq, lora.bq, this.#dq, T, dh, view(grads, p + 'attn.wq.lora_a'), view(grads, p + 'attn.wq.lora_b'))
      this.#loraBackward(c.h1, c.uv, lora.av, lora.bv, this.#dv, T, dh, view(grads, p + 'attn.wv.lora_a'), view(grads, p + 'attn.wv.lora_b'))
    }
    if (all) layerNormParamGrads(dh, c.xhat1, T, D, view(grads, p + 'ln1.g'), view(grads, p + 'ln1.b'), this.#acc)
    dres.set(dxmid.subarray(0, T * D))
    layerNormBackward(dh, T, D, c.xhat1, c.rstd1, w.ln1g, dres, true, this.#acc)
  }

  /** dW [K, M] = Xᵀ·DY for X [T, K] and DY [T, M] (sums over positions in ascending order). */
  #weightGrad(x: Float32Array, dy: Float32Array, T: number, K: number, M: number, out: Float32Array): void {
    transpose(x, T, K, this.#colT)
    transpose(dy, T, M, this.#rowT)
    matmulBt(this.#colT, this.#rowT, out, K, M, T, false)
  }

  /** y = … + s·(u·B), u = h·A: gradients of A and B, and dh += du·Aᵀ. */
  #loraBackward(h: Float32Array, u: Float32Array, a: Float32Array, b: Float32Array, dy: Float32Array, T: number, dh: Float32Array, gradA: Float32Array, gradB: Float32Array): void {
    const D = this.#D
    const r = this.rank
    const s = this.#scale
    const sdy = this.#tmpD
    for (let i = 0; i < T * D; i++) sdy[i] = s * dy[i]!
    const du = this.#du
    matmulBt(sdy, b, du, T, r, D, false)
    this.#weightGrad(u, sdy, T, r, D, gradB)
    this.#weightGrad(h, du, T, D, r, gradA)
    matmulBt(du, a, dh, T, D, r, true)
  }

  #attentionBackward(c: LayerCache, T: number): void {
    const D = this.#D
    const E = this.#E
    const C = this.#C
    const sqrtE = this.#sqrtE
    const { q, k, v, probs } = c
    const datt = this.#datt
    const dq = this.#dq
    const dk = this.#dk
    const dv = this.#dv
    const dP = this.#dScores
    const dkAcc = this.#dkAcc
    const dvAcc = this.#dvAcc
    const acc = this.#headAcc
    for (let head = 0; head < this.config.heads; head++) {
      const ho = head * E
      const po = head * C * C
      for (let i = 0; i < T * E; i++) {
        dkAcc[i] = 0
        dvAcc[i] = 0
      }
      for (let t = 0; t < T; t++) {
        const to = t * D + ho
        const row = po + t * C
        let dot = 0
        for (let u = 0; u <= t; u++) {
          const vo = u * D + ho
          let s = 0
          for (let e = 0; e < E; e++) s += datt[to + e]! * v[vo + e]!
          dP[u] = s
          dot += probs[row + u]! * s
        }
        for (let e = 0; e < E; e++) acc[e] = 0
        for (let u = 0; u <= t; u++) {
          const pr = probs[row + u]!
          const dS = (pr * (dP[u]! - dot)) / sqrtE
          const ko = u * D + ho
          const ao = u * E
          for (let e = 0; e < E; e++) {
            acc[e] = acc[e]! + dS * k[ko + e]!
            dkAcc[ao + e] = dkAcc[ao + e]! + dS * q[to + e]!
            dvAcc[ao + e] = dvAcc[ao + e]! + pr * datt[to + e]!
          }
        }
        for (let e = 0; e < E; e++) dq[to + e] = acc[e]!
      }
      for (let u = 0; u < T; u++) {
        const o = u * D + ho
        const ao = u * E
        for (let e = 0; e < E; e++) {
          dk[o + e] = dkAcc[ao + e]!
          dv[o + e] = dvAcc[ao + e]!
        }
      }
    }
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
