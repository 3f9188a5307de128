// The training state — step, weights being trained, AdamW moments, batch sampler — and its
// canonical bytes. Training resumed from any encoded state ends in the same bits as a run that
// never stopped, and the keccak256 of the bytes is the checkpoint hash.
//
// Layout: magic "OLTS" · u8 version (1) · u8 mode (0 lora, 1 all) · u32 step · 4 × u32 rng words
// (all little-endian) · a tensor file (params.ts) holding the weights in canonical order, then
// `adam.m` and `adam.v`, each flat [size] in the same order.
import { keccak256 } from '../../runtime/crypto/hash.ts'
import { MlError } from '../errors.ts'
import { gradientShapes, gradientViews, type GradientMode } from '../model/engine.ts'
import type { ModelConfig } from '../model/config.ts'
import { decodeTensors, encodeTensors } from '../model/params.ts'

export const STATE_MAGIC = Uint8Array.of(0x4f, 0x4c, 0x54, 0x53) // "OLTS"
export const STATE_FORMAT_VERSION = 1
const HEADER_BYTES = 4 + 1 + 1 + 4 + 16

export interface TrainingState {
  readonly mode: GradientMode
  /** steps completed */
  step: number
  /** the trained tensors, flat in canonical order (adapter for 'lora', every parameter for 'all') */
  readonly weights: Float32Array
  /** named views into `weights` */
  readonly tensors: Map<string, Float32Array>
  /** AdamW first and second moments, same layout as weights */
  readonly m: Float32Array
  readonly v: Float32Array
  /** the batch sampler's state */
  rng: Uint32Array
}

/** What the state's layout depends on. */
export interface StateLayout {
  config: ModelConfig
  mode: GradientMode
  /** LoRA rank (ignored for 'all') */
  rank: number
}

export function stateShapes(layout: StateLayout): Array<[string, number[]]> {
  return gradientShapes(layout.config, layout.mode, layout.rank)
}

export function stateSize(layout: StateLayout): number {
  let size = 0
  for (const [, shape] of stateShapes(layout)) size += shape.reduce((a, b) => a * b, 1)
  return size
}

/** A state around the given flat buffers (views are made here). */
export function makeState(layout: StateLayout, step: number, weights: Float32Array, m: Float32Array, v: Float32Array, rng: Uint32Array): TrainingState {
  return { mode: layout.mode, step, weights, tensors: gradientViews(stateShapes(layout), weights), m, v, rng: Uint32Array.from(rng) }
}

export function cloneState(layout: StateLayout, state: TrainingState): TrainingState {
  return makeState(layout, state.step, Float32Array.from(state.weights), Float32Array.from(state.m), Float32Array.from(state.v), state.rng)
}

function tensorMap(layout: StateLayout, state: TrainingState): { shapes: Array<[string, number[]]>; tensors: Map<string, Float32Array> } {
  const size = state.weights.length
  const shapes: Array<[string, number[]]> = [...stateShapes(layout), ['adam.m', [size]], ['adam.v', [size]]]
  const tensors = new Map(state.tensors)
  tensors.set('adam.m', state.m)
  tensors.set('adam.v', state.v)
  return { shapes, tensors }
}

export function encodeTrainingState(layout: StateLayout, state: TrainingState): Uint8Array {
  if (state.mode !== layout.mode) throw new MlError('STATE_MISMATCH', 'state mode differs from the layout', { details: { state: state.mode, layout: layout.mode } })
  const { shapes, tensors } = tensorMap(layout, state)
  const body = encodeTensors(shapes, tensors)
  const out = new Uint8Array(HEADER_BYTES + body.length)
  const view = new DataView(out.buffer)
  out.set(STATE_MAGIC)
  out[4] = STATE_FORMAT_VERSION
  out[5] = state.mode === 'lora' ? 0 : 1
  view.setUint32(6, state.step, true)
  for (let i = 0; i < 4; i++) view.setUint32(10 + 4 * i, state.rng[i]!, true)
  out.set(body, HEADER_BYTES)
  return out
}

export function decodeTrainingState(layout: StateLayout, bytes: Uint8Array): TrainingState {
  if (bytes.length < HEADER_BYTES || STATE_MAGIC.some((b, i) => bytes[i] !== b) || bytes[4] !== STATE_FORMAT_VERSION) {
    throw new MlError('INVALID_MAGIC', 'not an openledger training state (magic or version)')
  }
  const mode: GradientMode = bytes[5] === 0 ? 'lora' : 'all'
  if (bytes[5]! > 1 || mode !== layout.mode) throw new MlError('STATE_MISMATCH', 'training state mode differs from the job', { details: { mode: bytes[5] } })
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const step = view.getUint32(6, true)
  const rng = new Uint32Array(4)
  for (let i = 0; i < 4; i++) rng[i] = view.getUint32(10 + 4 * i, true)
  if ((rng[0]! | rng[1]! | rng[2]! | rng[3]!) === 0) throw new MlError('STATE_MISMATCH', 'training state has an all-zero rng')
  const size = stateSize(layout)
  const shapes: Array<[string, number[]]> = [...stateShapes(layout), ['adam.m', [size]], ['adam.v', [size]]]
  const tensors = decodeTensors(bytes.subarray(HEADER_BYTES), shapes)
  const weights = new Float32Array(size)
  let offset = 0
  for (const [name] of stateShapes(layout)) {
    const tensor = tensors.get(name)!
    weights.set(tensor, offset)
    offset += tensor.length
  }
  return makeState(layout, step, weights, tensors.get('adam.m')!, tensors.get('adam.v')!, rng)
}

/** keccak256 of the encoded state: a checkpoint hash. */
export function trainingStateHash(layout: StateLayout, state: TrainingState): Uint8Array {
  return keccak256(encodeTrainingState(layout, state))
}
