// One base model's onnxruntime session inside a serving worker: its KV cache, its adapters and the
// step that runs a batch. Runs only in a worker thread (onnxruntime's run() blocks its thread).
//
// KV cache: per layer, keys [S, H, E, C] (transposed, as the graph reads them) and values
// [S, H, C, E] for S = maxBatch slots of C = context positions. The scheduler keeps the running
// requests in slots 0..n−1 (a request that leaves is replaced by the last one: one move per leave),
// so a decode step feeds the first n slots as views — zero copies — and writes back only the new
// position's keys and values. Prefill rows read an empty past and write their prompt's positions.
//
// Adapters: every adapter the scheduler loaded is kept here at its own rank (the resident set; the
// scheduler owns the LRU and budget). The graph's stack input holds the adapters the current batch
// uses, zero-padded to the stack's rank; an adapter is written into a stack slot when a batch first
// needs it and stays there until its slot is reused, so steady decoding copies no adapter bytes.
import * as ort from 'onnxruntime-node'
import type { ModelConfig } from '../../../ml/model/config.ts'
import {
  exportServingModel, loraStackNames, pastKeyName, pastValueName, presentKeyName, presentValueName,
  SERVING_INPUT_IDS, SERVING_LAST_INDEX, SERVING_LOGITS, SERVING_LORA_INDEX, SERVING_LORA_SCALE,
  SERVING_LORA_TARGETS, SERVING_PAST_LENGTH,
} from '../../../ml/onnx/servingExport.ts'
import { ServingError } from '../errors.ts'
import { argmax, logSoftmaxAt, sampleToken } from './sampling.ts'
import type { SamplingParams } from '../types.ts'

export interface RunnerOptions {
  readonly maxBatch: number
  readonly executionProvider: string
  readonly intraOpThreads: number
}

/** A batch row's adapters: stack keys and scales (weight · alpha / rank). */
export interface RowAdapters {
  readonly keys: readonly string[]
  readonly scales: readonly number[]
}

export interface StepRow {
  readonly slot: number
  /** prefill: the prompt; decode: the last token */
  readonly tokens: readonly number[]
  /** tokens already in the slot's cache (0 for prefill) */
  readonly pastLength: number
  readonly adapters: RowAdapters
  readonly sampling: SamplingParams
  /** output position of the token this step chooses (the draw's index) */
  readonly outputIndex: number
  readonly logprobs: boolean
}

export interface StepResult {
  readonly tokens: Int32Array
  readonly logprobs: Float64Array
  /** the rows' logits [rows, vocab], kept only when asked (tests, equality checks) */
  readonly logits?: Float32Array
}

export interface RunnerCounters {
  runs: number
  /** bytes the runner itself copies: new keys/values into the cache, adapters into stack slots, slot moves */
  bytesCopied: number
  /** bytes copied into stack slots (part of bytesCopied) */
  stackBytesCopied: number
}

/** Checks the execution provider exists in this onnxruntime build (fails start clearly otherwise). */
export function checkExecutionProvider(name: string): void {
  const supported = ort.listSupportedBackends().map((backend) => backend.name)
  if (!supported.includes(name)) {
    throw new ServingError('EXECUTION_PROVIDER_UNAVAILABLE', `onnxruntime execution provider '${name}' is not available in this build`, { details: { executionProvider: name, supported } })
  }
}

interface ResidentTensors {
  readonly rank: number
  /** per layer, per target: A [D, r] and B [r, D] */
  readonly a: Float32Array[][]
  readonly b: Float32Array[][]
}

export class ModelRunner {
  readonly config: ModelConfig
  readonly counters: RunnerCounters = { runs: 0, bytesCopied: 0, stackBytesCopied: 0 }
  private readonly session: ort.InferenceSession
  private readonly maxBatch: number
  private readonly keys: Float32Array[]
  private readonly values: Float32Array[]
  private readonly slotFloats: number
  private readonly zeroPastKey: Float32Array
  private readonly zeroPastValue: Float32Array
  private readonly resident = new Map<string, ResidentTensors>()
  // the stack: slot 0 is all zeros (rows without an adapter point there with scale 0)
  private stackRank = 1
  private stackCapacity = 0
  private stackA: Float32Array[][] = []
  private stackB: Float32Array[][] = []
  private readonly slotOf = new Map<string, number>()
  private slotKey: (string | undefined)[] = []
  private slotUsed: number[] = []
  private stepCounter = 0

  private constructor(session: ort.InferenceSession, config: ModelConfig, maxBatch: number) {
    this.session = session
    this.config = config
    this.maxBatch = maxBatch
    const { dim: D, context: C, layers } = config
    this.slotFloats = D * C // H · E · C
    this.keys = Array.from({ length: layers }, () => new Float32Array(maxBatch * this.slotFloats))
    this.values = Array.from({ length: layers }, () => new Float32Array(maxBatch * this.slotFloats))
    this.zeroPastKey = new Float32Array(maxBatch * D)
    this.zeroPastValue = new Float32Array(maxBatch * D)
    this.growStack(8, 1)
  }

  static async create(config: ModelConfig, weights: ReadonlyMap<string, Float32Array>, options: RunnerOptions): Promise<ModelRunner> {
    checkExecutionProvider(options.executionProvider)
    const session = await ort.InferenceSession.create(exportServingModel(config, weights), {
      executionProviders: [options.executionProvider],
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    })
    return new ModelRunner(session, config, options.maxBatch)
  }

  async release(): Promise<void> {
    await this.session.release()
  }

  /** Keeps an adapter's tensors (named as adapterShapes) resident under `key`. */
  loadAdapter(key: string, rank: number, tensors: ReadonlyMap<string, Float32Array>): void {
    const a: Float32Array[][] = []
    const b: Float32Array[][] = []
    for (let i = 0; i < this.config.layers; i++) {
      a.push([]); b.push([])
      for (const target of SERVING_LORA_TARGETS) {
        const names = loraStackNames(i, target)
        const ta = tensors.get(names.a)
        const tb = tensors.get(names.b)
        if (ta === undefined || tb === undefined) throw new ServingError('ADAPTER_INVALID', `adapter lacks ${names.a} or ${names.b}`, { details: { key } })
        a[i]!.push(ta); b[i]!.push(tb)
      }
    }
    this.dropAdapter(key)
    this.resident.set(key, { rank, a, b })
  }

  dropAdapter(key: string): void {
    this.resident.delete(key)
    const slot = this.slotOf.get(key)
    if (slot !== undefined) { this.slotOf.delete(key); this.slotKey[slot] = undefined }
  }

  /** Moves a slot's cache (a request that left is replaced by the last running one). */
  moveSlot(from: number, to: number, length: number): void {
    const { heads: H, dim: D, context: C } = this.config
    const E = D / H
    for (let l = 0; l < this.config.layers; l++) {
      const k = this.keys[l]!
      // keys [H, E, C]: only the first `length` positions of each (h, e) row matter
      for (let r = 0; r < H * E; r++) k.copyWithin(to * this.slotFloats + r * C, from * this.slotFloats + r * C, from * this.slotFloats + r * C + length)
      const v = this.values[l]!
      for (let h = 0; h < H; h++) v.copyWithin(to * this.slotFloats + h * C * E, from * this.slotFloats + h * C * E, from * this.slotFloats + h * C * E + length * E)
    }
    this.counters.bytesCopied += 2 * this.config.layers * length * D * 4
  }

  /**
   * Decode: rows are slots 0..n−1 in order, one token each. Prefill: rows at any slots with past
   * length 0, right-padded to the longest prompt.
   */
  async step(rows: readonly StepRow[], mode: 'decode' | 'prefill', keepLogits = false): Promise<StepResult> {
    const { heads: H, dim: D, context: C, layers, vocab } = this.config
    const E = D / H
    const n = rows.length
    const T = mode === 'decode' ? 1 : Math.max(...rows.map((row) => row.tokens.length))
    const ids = new BigInt64Array(n * T)
    const pastLength = new BigInt64Array(n)
    const lastIndex = new BigInt64Array(n)
    for (let b = 0; b < n; b++) {
      const row = rows[b]!
      if (mode === 'decode' && row.slot !== b) throw new ServingError('ENGINE_FAILURE', 'decode rows must be slots 0..n−1 in order', { details: { row: b, slot: row.slot } })
      for (let t = 0; t < row.tokens.length; t++) ids[b * T + t] = BigInt(row.tokens[t]!)
      pastLength[b] = BigInt(row.pastLength)
      lastIndex[b] = BigInt(row.tokens.length - 1)
    }
    const feeds: Record<string, ort.Tensor> = {
      [SERVING_INPUT_IDS]: new ort.Tensor('int64', ids, [n, T]),
      [SERVING_PAST_LENGTH]: new ort.Tensor('int64', pastLength, [n]),
      [SERVING_LAST_INDEX]: new ort.Tensor('int64', lastIndex, [n]),
    }
    for (let l = 0; l < layers; l++) {
      if (mode === 'decode') {
        feeds[pastKeyName(l)] = new ort.Tensor('float32', this.keys[l]!.subarray(0, n * this.slotFloats), [n, H, E, C])
        feeds[pastValueName(l)] = new ort.Tensor('float32', this.values[l]!.subarray(0, n * this.slotFloats), [n, H, C, E])
      } else {
        feeds[pastKeyName(l)] = new ort.Tensor('float32', this.zeroPastKey.subarray(0, n * D), [n, H, E, 1])
        feeds[pastValueName(l)] = new ort.Tensor('float32', this.zeroPastValue.subarray(0, n * D), [n, H, 1, E])
      }
    }
    this.feedAdapters(rows, feeds)
    const results = await this.session.run(feeds)
    this.counters.runs++
    // write the new positions into each row's slot
    for (let l = 0; l < layers; l++) {
      const presentKey = results[presentKeyName(l)]!.data as Float32Array // [n, H, E, T]
      const presentValue = results[presentValueName(l)]!.data as Float32Array // [n, H, T, E]
      const k = this.keys[l]!
      const v = this.values[l]!
      for (let b = 0; b < n; b++) {
        const row = rows[b]!
        const count = mode === 'decode' ? 1 : row.tokens.length
        const slotBase = row.slot * this.slotFloats
        if (count === 1) {
          // decode: one float per (head, dim) row — plain stores beat H·E subarray views
          const src = b * H * E * T
          const dst = slotBase + row.pastLength
          for (let r = 0; r < H * E; r++) k[dst + r * C] = presentKey[src + r * T]!
        } else {
          for (let r = 0; r < H * E; r++) {
            const src = (b * H * E + r) * T
            k.set(presentKey.subarray(src, src + count), slotBase + r * C + row.pastLength)
          }
        }
        for (let h = 0; h < H; h++) {
          const src = ((b * H + h) * T) * E
          v.set(presentValue.subarray(src, src + count * E), slotBase + (h * C + row.pastLength) * E)
        }
        this.counters.bytesCopied += 2 * count * D * 4
      }
    }
    const logits = results[SERVING_LOGITS]!.data as Float32Array // [n, vocab]
    const tokens = new Int32Array(n)
    const logprobs = new Float64Array(n)
    for (let b = 0; b < n; b++) {
      const row = rows[b]!
      const rowLogits = logits.subarray(b * vocab, (b + 1) * vocab)
      const token = row.sampling.temperature === 0 ? argmax(rowLogits) : sampleToken(rowLogits, row.sampling, row.outputIndex)
      tokens[b] = token
      logprobs[b] = row.logprobs ? logSoftmaxAt(rowLogits, token) : NaN
    }
    return keepLogits ? { tokens, logprobs, logits: logits.slice() } : { tokens, logprobs }
  }

  private feedAdapters(rows: readonly StepRow[], feeds: Record<string, ort.Tensor>): void {
    const n = rows.length
    const merge = Math.max(1, ...rows.map((row) => row.adapters.keys.length))
    const index = new BigInt64Array(n * merge)
    const scale = new Float32Array(n * merge)
    this.stepCounter++
    const needed = new Set<string>()
    for (const row of rows) for (const key of row.adapters.keys) needed.add(key)
    // the stack's rank covers every needed adapter (grow, rewriting the slotted ones, when it must)
    let rank = this.stackRank
    for (const key of needed) rank = Math.max(rank, this.residentOf(key).rank)
    if (rank > this.stackRank) this.growStack(this.stackCapacity, rank)
    for (const key of needed) {
      const slot = this.slotOf.get(key)
      if (slot !== undefined) this.slotUsed[slot] = this.stepCounter
    }
    for (const key of needed) if (!this.slotOf.has(key)) this.placeInStack(key)
    for (let b = 0; b < n; b++) {
      const { keys, scales } = rows[b]!.adapters
      for (let m = 0; m < keys.length; m++) {
        index[b * merge + m] = BigInt(this.slotOf.get(keys[m]!)!)
        scale[b * merge + m] = scales[m]!
      }
    }
    const { dim: D, layers } = this.config
    const R = this.stackRank
    const N = this.stackCapacity
    for (let l = 0; l < layers; l++) {
      SERVING_LORA_TARGETS.forEach((target, j) => {
        const names = loraStackNames(l, target)
        feeds[names.a] = new ort.Tensor('float32', this.stackA[l]![j]!, [N, D, R])
        feeds[names.b] = new ort.Tensor('float32', this.stackB[l]![j]!, [N, R, D])
      })
    }
    feeds[SERVING_LORA_INDEX] = new ort.Tensor('int64', index, [n, merge])
    feeds[SERVING_LORA_SCALE] = new ort.Tensor('float32', scale, [n, merge])
  }

  private residentOf(key: string): ResidentTensors {
    const tensors = this.resident.get(key)
    if (tensors === undefined) throw new ServingError('ENGINE_FAILURE', `adapter ${key} is not loaded in the worker`, { details: { key } })
    return tensors
  }

  private placeInStack(key: string): void {
    // a free slot (never slot 0), else the least recently used one not needed by this step, else grow
    let slot = -1
    let oldest = Infinity
    for (let s = 1; s < this.stackCapacity; s++) {
      if (this.slotKey[s] === undefined) { slot = s; break }
      if (this.slotUsed[s]! < this.stepCounter && this.slotUsed[s]! < oldest) { oldest = this.slotUsed[s]!; slot = s }
    }
    if (slot < 0) {
      slot = this.stackCapacity
      this.growStack(this.stackCapacity * 2, this.stackRank)
    }
    const previous = this.slotKey[slot]
    if (previous !== undefined) this.slotOf.delete(previous)
    this.slotKey[slot] = key
    this.slotOf.set(key, slot)
    this.slotUsed[slot] = this.stepCounter
    this.writeSlot(slot, this.residentOf(key))
  }

  private writeSlot(slot: number, tensors: ResidentTensors): void {
    const { dim: D, layers } = this.config
    const R = this.stackRank
    const r = tensors.rank
    for (let l = 0; l < layers; l++) {
      for (let j = 0; j < SERVING_LORA_TARGETS.length; j++) {
        const a = this.stackA[l]![j]!.subarray(slot * D * R, (slot + 1) * D * R)
        const source = tensors.a[l]![j]!
        if (r === R) a.set(source)
        else {
          a.fill(0)
          for (let d = 0; d < D; d++) a.set(source.subarray(d * r, d * r + r), d * R)
        }
        const b = this.stackB[l]![j]!.subarray(slot * R * D, (slot + 1) * R * D)
        b.fill(0)
        b.set(tensors.b[l]![j]!)
      }
    }
    const bytes = 2 * layers * SERVING_LORA_TARGETS.length * D * R * 4
    this.counters.bytesCopied += bytes
    this.counters.stackBytesCopied += bytes
  }

  private growStack(capacity: number, rank: number): void {
    const { dim: D, layers } = this.config
    const keep = this.slotKey.slice(0, this.stackCapacity)
    this.stackCapacity = capacity
    this.stackRank = rank
    this.stackA = Array.from({ length: layers }, () => SERVING_LORA_TARGETS.map(() => new Float32Array(capacity * D * rank)))
    this.stackB = Array.from({ length: layers }, () => SERVING_LORA_TARGETS.map(() => new Float32Array(capacity * rank * D)))
    this.slotKey = Array.from({ length: capacity }, (_, s) => keep[s])
    this.slotUsed = Array.from({ length: capacity }, (_, s) => this.slotUsed[s] ?? 0)
    for (let s = 1; s < capacity; s++) {
      const key = this.slotKey[s]
      if (key === undefined) continue
      const tensors = this.resident.get(key)
      if (tensors === undefined) { this.slotKey[s] = undefined; this.slotOf.delete(key) } else this.writeSlot(s, tensors)
    }
  }

  get maxSlots(): number {
    return this.maxBatch
  }
}
