// Parameters of the model family: deterministic initialisation of base models and LoRA adapters,
// and the canonical tensor file (header + float32 little-endian data) whose keccak256 names a set
// of weights on chain.
//
// Tensor file layout (all integers little-endian):
//   magic "OLTN" · u8 format version (1) · u32 tensor count
//   per tensor, in canonical order: u16 name length · name (utf8) · u8 rank · u32 per dimension
//   zero bytes up to a multiple of 4 · the tensors' float32 values back to back, in the same order
import { keccak256 } from '../../runtime/crypto/hash.ts'
import { MlError } from '../errors.ts'
import { Rng } from '../random.ts'
import { adapterShapes, elementCount, paramShapes, type LoraConfig, type ModelConfig, type Tensors } from './config.ts'

export const TENSOR_MAGIC = Uint8Array.of(0x4f, 0x4c, 0x54, 0x4e) // "OLTN"
export const TENSOR_FORMAT_VERSION = 1
/** Standard deviation of GPT-2's normal initialisation. */
export const INIT_STD = 0.02

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1
const textEncoder = new TextEncoder()

/** Checks a model config: positive integer sizes, heads dividing dim, classes only for a classifier. */
export function checkConfig(config: ModelConfig): void {
  const positive = ['vocab', 'context', 'dim', 'layers', 'heads', 'hidden'] as const
  for (const key of positive) {
    const value = config[key]
    if (!Number.isSafeInteger(value) || value < 1) throw new MlError('INVALID_ARGUMENT', `config.${key} must be a positive integer`, { details: { [key]: value } })
  }
  if (config.dim % config.heads !== 0) throw new MlError('INVALID_ARGUMENT', 'config.heads must divide config.dim', { details: { dim: config.dim, heads: config.heads } })
  if (config.kind === 'classifier' ? !(Number.isSafeInteger(config.classes) && config.classes >= 2) : config.classes !== 0) {
    throw new MlError('INVALID_ARGUMENT', 'config.classes must be ≥ 2 for a classifier and 0 for a language model', { details: { kind: config.kind, classes: config.classes } })
  }
  if (config.kind !== 'lm' && config.kind !== 'classifier') throw new MlError('INVALID_ARGUMENT', 'config.kind must be lm or classifier')
}

export function checkLora(config: ModelConfig, lora: LoraConfig): void {
  if (!Number.isSafeInteger(lora.rank) || lora.rank < 1 || lora.rank > config.dim) throw new MlError('INVALID_ARGUMENT', 'lora.rank must be an integer in [1, dim]', { details: { rank: lora.rank } })
  if (!Number.isFinite(lora.alpha) || lora.alpha <= 0) throw new MlError('INVALID_ARGUMENT', 'lora.alpha must be positive', { details: { alpha: lora.alpha } })
}

/** A base model's initial weights: normal·0.02 for matrices and embeddings, LayerNorm g = 1 and b = 0, biases 0. */
export function initParams(config: ModelConfig, seed: number): Map<string, Float32Array> {
  checkConfig(config)
  const rng = new Rng(seed)
  const out = new Map<string, Float32Array>()
  for (const [name, shape] of paramShapes(config)) {
    const tensor = new Float32Array(elementCount(shape))
    if (name.endsWith('.g')) tensor.fill(1)
    else if (shape.length === 2) for (let i = 0; i < tensor.length; i++) tensor[i] = INIT_STD * rng.normal()
    out.set(name, tensor)
  }
  return out
}

/**
 * A fresh LoRA adapter: each lora_a uniform in ±1/sqrt(dim) (PyTorch's Kaiming-uniform with a = √5,
 * as PEFT does), each lora_b zero, so the adapted model starts equal to the base. A classifier's
 * cls.w and cls.b start as copies of the base's head (normal·0.02 and 0 when no base is given).
 */
export function initAdapter(config: ModelConfig, lora: LoraConfig, seed: Uint8Array | number, base?: Tensors): Map<string, Float32Array> {
  checkConfig(config)
  checkLora(config, lora)
  const rng = new Rng(seed)
  const bound = 1 / Math.sqrt(config.dim)
  const out = new Map<string, Float32Array>()
  for (const [name, shape] of adapterShapes(config, lora)) {
    const tensor = new Float32Array(elementCount(shape))
    if (name.endsWith('.lora_a')) {
      for (let i = 0; i < tensor.length; i++) tensor[i] = (2 * rng.nextFloat() - 1) * bound
    } else if (name === 'cls.w' || name === 'cls.b') {
      const from = base?.get(name)
      if (from !== undefined) {
        if (from.length !== tensor.length) throw new MlError('SHAPE_MISMATCH', `base tensor ${name} has the wrong size`, { details: { name, expected: tensor.length, actual: from.length } })
        tensor.set(from)
      } else if (name === 'cls.w') {
        for (let i = 0; i < tensor.length; i++) tensor[i] = INIT_STD * rng.normal()
      }
    }
    out.set(name, tensor)
  }
  return out
}

/** The tensor of each expected name, checked for presence and size. */
export function expectTensors(shapes: ReadonlyArray<readonly [string, readonly number[]]>, tensors: Tensors): Float32Array[] {
  return shapes.map(([name, shape]) => {
    const tensor = tensors.get(name)
    if (tensor === undefined) throw new MlError('MISSING_TENSOR', `tensor ${name} is missing`, { details: { name } })
    if (tensor.length !== elementCount(shape)) throw new MlError('SHAPE_MISMATCH', `tensor ${name} has ${tensor.length} values, its shape needs ${elementCount(shape)}`, { details: { name, shape: [...shape], length: tensor.length } })
    return tensor
  })
}

function headerBytes(shapes: ReadonlyArray<readonly [string, readonly number[]]>): Uint8Array {
  const parts: number[] = [...TENSOR_MAGIC, TENSOR_FORMAT_VERSION]
  const u32 = (value: number) => parts.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  u32(shapes.length)
  for (const [name, shape] of shapes) {
    const nameBytes = textEncoder.encode(name)
    if (nameBytes.length > 0xffff || shape.length > 0xff) throw new MlError('INVALID_ARGUMENT', 'tensor name or rank too large', { details: { name } })
    parts.push(nameBytes.length & 0xff, nameBytes.length >>> 8, ...nameBytes, shape.length)
    for (const dim of shape) {
      if (!Number.isSafeInteger(dim) || dim < 0 || dim > 0xffffffff) throw new MlError('INVALID_ARGUMENT', 'tensor dimensions must be u32', { details: { name } })
      u32(dim)
    }
  }
  while (parts.length % 4 !== 0) parts.push(0)
  return Uint8Array.from(parts)
}

/** The canonical bytes of a set of tensors (see the layout above); checks every tensor is present with its size. */
export function encodeTensors(shapes: Array<[string, number[]]>, tensors: Tensors): Uint8Array {
  const values = expectTensors(shapes, tensors)
  const header = headerBytes(shapes)
  let total = 0
  for (const tensor of values) total += tensor.length
  const out = new Uint8Array(header.length + 4 * total)
  out.set(header)
  let offset = header.length
  const view = new DataView(out.buffer)
  for (const tensor of values) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(tensor.buffer, tensor.byteOffset, tensor.byteLength), offset)
    else for (let i = 0; i < tensor.length; i++) view.setFloat32(offset + 4 * i, tensor[i] as number, true)
    offset += tensor.byteLength
  }
  return out
}

/**
 * Tensors back from their canonical bytes, which must hold exactly the expected names and shapes in
 * order, nothing more, and only finite values.
 */
export function decodeTensors(bytes: Uint8Array, shapes: Array<[string, number[]]>): Map<string, Float32Array> {
  if (!(bytes instanceof Uint8Array)) throw new MlError('INVALID_ARGUMENT', 'tensor bytes must be a Uint8Array')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 9 || TENSOR_MAGIC.some((b, i) => bytes[i] !== b) || bytes[4] !== TENSOR_FORMAT_VERSION) {
    throw new MlError('INVALID_MAGIC', 'not an openledger tensor file (magic or version)')
  }
  const expectedHeader = headerBytes(shapes)
  if (bytes.length < expectedHeader.length) throw new MlError('INVALID_SIZE', 'tensor file shorter than its header', { details: { length: bytes.length } })
  for (let i = 5; i < expectedHeader.length; i++) {
    if (bytes[i] !== expectedHeader[i]) {
      throw new MlError('SHAPE_MISMATCH', 'tensor names or shapes differ from the expected ones', { details: { offset: i, count: view.getUint32(5, true) } })
    }
  }
  let total = 0
  for (const [, shape] of shapes) total += elementCount(shape)
  if (bytes.length !== expectedHeader.length + 4 * total) {
    throw new MlError('INVALID_SIZE', 'tensor file length does not match its shapes', { details: { length: bytes.length, expected: expectedHeader.length + 4 * total } })
  }
  const out = new Map<string, Float32Array>()
  let offset = expectedHeader.length
  for (const [name, shape] of shapes) {
    const count = elementCount(shape)
    const tensor = new Float32Array(count)
    if (LITTLE_ENDIAN) new Uint8Array(tensor.buffer).set(bytes.subarray(offset, offset + 4 * count))
    else for (let i = 0; i < count; i++) tensor[i] = view.getFloat32(offset + 4 * i, true)
    for (let i = 0; i < count; i++) {
      const value = tensor[i] as number
      if (value - value !== 0) throw new MlError('NON_FINITE', `tensor ${name} holds a non-finite value`, { details: { name, index: i } })
    }
    out.set(name, tensor)
    offset += 4 * count
  }
  return out
}

/** keccak256 of the canonical bytes: the on-chain name of a set of weights. */
export function tensorsHash(shapes: Array<[string, number[]]>, tensors: Tensors): Uint8Array {
  return keccak256(encodeTensors(shapes, tensors))
}
