// The subset of onnx.proto the exporter writes (ModelProto, GraphProto, NodeProto, TensorProto,
// ValueInfoProto with symbolic dims, AttributeProto int/float/ints/tensor, OperatorSetIdProto), its
// canonical encoder and a checking reader. The encoding is canonical so that an artifact's keccak
// hash can be recorded on chain and recomputed by anyone: every message writes its fields in
// ascending field-number order, repeated fields in the order given, no maps, no unknown fields,
// float tensors as little-endian raw_data, int64 tensors as packed int64_data, and repeated scalars
// outside tensors unpacked as proto2 declares them (the bytes onnx's own serializer would produce).
// The reader parses back what a node needs to accept a fetched artifact: versions, opsets, the
// graph's inputs, outputs, nodes and initializer names and shapes (with the payload size checked).
import { OnnxFormatError } from './errors.ts'
import {
  optionalBytes, optionalString, optionalVarint, ProtoWriter, readFields, repeatedBytes, repeatedVarints, toInt64, WireType, type ProtoField,
} from './protobuf.ts'

/** onnx.proto IR version 8 (2021-07-30): understood by every onnxruntime since 1.10. */
export const IR_VERSION = 8
/** The default-domain opset the exporter targets (ReduceMean still takes `axes` as an attribute). */
export const OPSET_VERSION = 17

/** TensorProto.DataType values the exporter uses. */
export const TensorDataType = { float: 1, int64: 7 } as const
export type TensorDataType = keyof typeof TensorDataType

export type OnnxTensor =
  | { readonly name: string; readonly dataType: 'float'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly name: string; readonly dataType: 'int64'; readonly dims: readonly number[]; readonly data: readonly bigint[] | BigInt64Array }

/** A dimension: a fixed size, or a name (`dim_param`) for a size chosen at run time. */
export type OnnxDim = number | string

export interface OnnxValueInfo {
  readonly name: string
  readonly elemType: TensorDataType
  readonly shape: readonly OnnxDim[]
}

export type OnnxAttribute =
  | { readonly name: string; readonly type: 'int'; readonly value: number }
  | { readonly name: string; readonly type: 'float'; readonly value: number }
  | { readonly name: string; readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'tensor'; readonly value: OnnxTensor }

export interface OnnxNode {
  readonly opType: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly name?: string
  readonly attributes?: readonly OnnxAttribute[]
}

export interface OnnxGraph {
  readonly name: string
  /** topologically sorted */
  readonly nodes: readonly OnnxNode[]
  readonly initializers: readonly OnnxTensor[]
  readonly inputs: readonly OnnxValueInfo[]
  readonly outputs: readonly OnnxValueInfo[]
}

export interface OnnxOpsetImport {
  /** '' is the default ONNX domain */
  readonly domain: string
  readonly version: number
}

export interface OnnxModel {
  readonly irVersion: number
  readonly producerName: string
  readonly producerVersion: string
  readonly graph: OnnxGraph
  readonly opsetImports: readonly OnnxOpsetImport[]
}

// onnx.proto field numbers, by message.
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 } as const
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const
const ATTRIBUTE = { name: 1, f: 2, i: 3, t: 5, ints: 8, type: 20 } as const
const ATTRIBUTE_TYPE = { float: 1, int: 2, tensor: 4, ints: 7 } as const
const TENSOR = { dims: 1, dataType: 2, floatData: 4, int64Data: 7, name: 8, rawData: 9 } as const
const VALUE_INFO = { name: 1, type: 2 } as const
const TYPE = { tensorType: 1 } as const
const TYPE_TENSOR = { elemType: 1, shape: 2 } as const
const SHAPE = { dim: 1 } as const
const DIMENSION = { dimValue: 1, dimParam: 2 } as const
const OPSET = { domain: 1, version: 2 } as const

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** The canonical bytes of a model: the same model always gives the same bytes. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const writer = new ProtoWriter()
    .int64(MODEL.irVersion, model.irVersion)
    .string(MODEL.producerName, model.producerName)
    .string(MODEL.producerVersion, model.producerVersion)
    .message(MODEL.graph, encodeGraph(model.graph))
  for (const opset of model.opsetImports) {
    writer.message(MODEL.opsetImport, new ProtoWriter().string(OPSET.domain, opset.domain).int64(OPSET.version, opset.version).finish())
  }
  return writer.finish()
}

function encodeGraph(graph: OnnxGraph): Uint8Array {
  const writer = new ProtoWriter()
  for (const node of graph.nodes) writer.message(GRAPH.node, encodeNode(node))
  writer.string(GRAPH.name, graph.name)
  for (const tensor of graph.initializers) writer.message(GRAPH.initializer, encodeTensor(tensor))
  for (const input of graph.inputs) writer.message(GRAPH.input, encodeValueInfo(input))
  for (const output of graph.outputs) writer.message(GRAPH.output, encodeValueInfo(output))
  return writer.finish()
}

function encodeNode(node: OnnxNode): Uint8Array {
  const writer = new ProtoWriter()
  for (const input of node.inputs) writer.string(NODE.input, input)
  for (const output of node.outputs) writer.string(NODE.output, output)
  if (node.name !== undefined) writer.string(NODE.name, node.name)
  writer.string(NODE.opType, node.opType)
  for (const attribute of node.attributes ?? []) writer.message(NODE.attribute, encodeAttribute(attribute))
  return writer.finish()
}

function encodeAttribute(attribute: OnnxAttribute): Uint8Array {
  const writer = new ProtoWriter().string(ATTRIBUTE.name, attribute.name)
  switch (attribute.type) {
    case 'float':
      writer.float(ATTRIBUTE.f, attribute.value)
      break
    case 'int':
      writer.int64(ATTRIBUTE.i, attribute.value)
      break
    case 'tensor':
      writer.message(ATTRIBUTE.t, encodeTensor(attribute.value))
      break
    case 'ints':
      for (const value of attribute.value) writer.int64(ATTRIBUTE.ints, value)
      break
  }
  return writer.varint(ATTRIBUTE.type, ATTRIBUTE_TYPE[attribute.type]).finish()
}

function encodeTensor(tensor: OnnxTensor): Uint8Array {
  const count = tensor.dims.reduce((a, b) => a * b, 1)
  if (tensor.data.length !== count) throw new RangeError(`tensor ${tensor.name}: ${tensor.data.length} values for dims [${tensor.dims.join(', ')}]`)
  const writer = new ProtoWriter()
  for (const dim of tensor.dims) writer.int64(TENSOR.dims, dim)
  writer.varint(TENSOR.dataType, TensorDataType[tensor.dataType])
  if (tensor.dataType === 'int64') writer.packedVarints(TENSOR.int64Data, Array.from(tensor.data))
  writer.string(TENSOR.name, tensor.name)
  if (tensor.dataType === 'float') writer.bytes(TENSOR.rawData, float32LittleEndian(tensor.data))
  return writer.finish()
}

function float32LittleEndian(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const out = new Uint8Array(data.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true)
  return out
}

function encodeValueInfo(info: OnnxValueInfo): Uint8Array {
  const shape = new ProtoWriter()
  for (const dim of info.shape) {
    const dimension = new ProtoWriter()
    if (typeof dim === 'number') dimension.int64(DIMENSION.dimValue, dim)
    else dimension.string(DIMENSION.dimParam, dim)
    shape.message(SHAPE.dim, dimension.finish())
  }
  const tensorType = new ProtoWriter().varint(TYPE_TENSOR.elemType, TensorDataType[info.elemType]).message(TYPE_TENSOR.shape, shape.finish()).finish()
  const type = new ProtoWriter().message(TYPE.tensorType, tensorType).finish()
  return new ProtoWriter().string(VALUE_INFO.name, info.name).message(VALUE_INFO.type, type).finish()
}

// ---- reading back ----

/** A value's declared type: the TensorProto.DataType number (not only the ones the exporter writes). */
export interface OnnxValueSummary {
  readonly name: string
  readonly elemType: number
  readonly shape: readonly OnnxDim[]
}

export interface OnnxTensorSummary {
  readonly name: string
  readonly dataType: number
  readonly dims: readonly number[]
}

export interface OnnxNodeSummary {
  readonly opType: string
  readonly domain: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
}

export interface OnnxModelSummary {
  readonly irVersion: number
  readonly producerName: string
  readonly opsetImports: readonly OnnxOpsetImport[]
  readonly graph: {
    readonly name: string
    readonly nodes: readonly OnnxNodeSummary[]
    readonly initializers: readonly OnnxTensorSummary[]
    readonly inputs: readonly OnnxValueSummary[]
    readonly outputs: readonly OnnxValueSummary[]
  }
}

const ELEMENT_SIZE: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 }

/**
 * Parses the parts of a model file a node checks before accepting it. Throws OnnxFormatError on
 * anything malformed: truncation, bad varints or wire types, invalid UTF-8, a missing graph or
 * name, or an initializer whose payload does not hold exactly the elements its dims announce.
 */
export function readModelSummary(bytes: Uint8Array): OnnxModelSummary {
  const fields = readFields(bytes, 'ModelProto')
  const irVersion = requireNumber(optionalVarint(fields, MODEL.irVersion, 'ModelProto'), 'ModelProto', 'ir_version')
  const graphBytes = optionalBytes(fields, MODEL.graph, 'ModelProto')
  if (graphBytes === undefined) throw missing('ModelProto', 'graph')
  const opsetImports = repeatedBytes(fields, MODEL.opsetImport, 'ModelProto').map((entry) => {
    const opset = readFields(entry, 'OperatorSetIdProto')
    return {
      domain: optionalString(opset, OPSET.domain, 'OperatorSetIdProto') ?? '',
      version: requireNumber(optionalVarint(opset, OPSET.version, 'OperatorSetIdProto'), 'OperatorSetIdProto', 'version'),
    }
  })
  const graph = readFields(graphBytes, 'GraphProto')
  return {
    irVersion,
    producerName: optionalString(fields, MODEL.producerName, 'ModelProto') ?? '',
    opsetImports,
    graph: {
      name: optionalString(graph, GRAPH.name, 'GraphProto') ?? '',
      nodes: repeatedBytes(graph, GRAPH.node, 'GraphProto').map(readNode),
      initializers: repeatedBytes(graph, GRAPH.initializer, 'GraphProto').map(readTensor),
      inputs: repeatedBytes(graph, GRAPH.input, 'GraphProto').map(readValueInfo),
      outputs: repeatedBytes(graph, GRAPH.output, 'GraphProto').map(readValueInfo),
    },
  }
}

function readNode(bytes: Uint8Array): OnnxNodeSummary {
  const fields = readFields(bytes, 'NodeProto')
  const opType = optionalString(fields, NODE.opType, 'NodeProto')
  if (opType === undefined) throw missing('NodeProto', 'op_type')
  for (const attribute of repeatedBytes(fields, NODE.attribute, 'NodeProto')) readFields(attribute, 'AttributeProto')
  return {
    opType,
    domain: optionalString(fields, NODE.domain, 'NodeProto') ?? '',
    inputs: repeatedStrings(fields, NODE.input, 'NodeProto'),
    outputs: repeatedStrings(fields, NODE.output, 'NodeProto'),
  }
}

function readTensor(bytes: Uint8Array): OnnxTensorSummary {
  const context = 'TensorProto'
  const fields = readFields(bytes, context)
  const name = optionalString(fields, TENSOR.name, context)
  if (name === undefined) throw missing(context, 'name')
  const dims = repeatedVarints(fields, TENSOR.dims, context).map((dim) => toSize(toInt64(dim), context, 'dims'))
  const dataType = requireNumber(optionalVarint(fields, TENSOR.dataType, context), context, 'data_type')
  const count = dims.reduce((a, b) => a * b, 1)
  const raw = optionalBytes(fields, TENSOR.rawData, context)
  let stored: number
  if (raw !== undefined) {
    const size = ELEMENT_SIZE[dataType]
    if (size === undefined || raw.length % size !== 0) throw badTensor(name, 'raw_data does not fit the data type', { dataType, bytes: raw.length })
    stored = raw.length / size
  } else if (dataType === TensorDataType.int64) stored = repeatedVarints(fields, TENSOR.int64Data, context).length
  else if (dataType === TensorDataType.float) stored = repeatedFixed32Count(fields, TENSOR.floatData, context)
  else throw badTensor(name, 'unsupported data type without raw_data', { dataType })
  if (stored !== count) throw badTensor(name, 'payload size does not match dims', { dims, stored })
  return { name, dataType, dims }
}

function readValueInfo(bytes: Uint8Array): OnnxValueSummary {
  const fields = readFields(bytes, 'ValueInfoProto')
  const name = optionalString(fields, VALUE_INFO.name, 'ValueInfoProto')
  if (name === undefined) throw missing('ValueInfoProto', 'name')
  const type = optionalBytes(fields, VALUE_INFO.type, 'ValueInfoProto')
  if (type === undefined) throw missing('ValueInfoProto', 'type')
  const tensorType = optionalBytes(readFields(type, 'TypeProto'), TYPE.tensorType, 'TypeProto')
  if (tensorType === undefined) throw missing('TypeProto', 'tensor_type')
  const tensorFields = readFields(tensorType, 'TypeProto.Tensor')
  const elemType = requireNumber(optionalVarint(tensorFields, TYPE_TENSOR.elemType, 'TypeProto.Tensor'), 'TypeProto.Tensor', 'elem_type')
  const shapeBytes = optionalBytes(tensorFields, TYPE_TENSOR.shape, 'TypeProto.Tensor')
  const shape = shapeBytes === undefined ? [] : repeatedBytes(readFields(shapeBytes, 'TensorShapeProto'), SHAPE.dim, 'TensorShapeProto').map((dimBytes): OnnxDim => {
    const dim = readFields(dimBytes, 'Dimension')
    const value = optionalVarint(dim, DIMENSION.dimValue, 'Dimension')
    if (value !== undefined) return toSize(toInt64(value), 'Dimension', 'dim_value')
    return optionalString(dim, DIMENSION.dimParam, 'Dimension') ?? ''
  })
  return { name, elemType, shape }
}

function repeatedStrings(fields: readonly ProtoField[], field: number, context: string): string[] {
  // optionalString on a one-field list decodes (and checks) each occurrence
  return fields.filter((entry) => entry.field === field).map((entry) => optionalString([entry], field, context) ?? '')
}

function repeatedFixed32Count(fields: readonly ProtoField[], field: number, context: string): number {
  let count = 0
  for (const entry of fields) {
    if (entry.field !== field) continue
    if (entry.wireType === WireType.fixed32) count++
    else if (entry.wireType === WireType.lengthDelimited && entry.value.length % 4 === 0) count += entry.value.length / 4
    else throw new OnnxFormatError('ONNX_BAD_WIRE_TYPE', `${context}: field ${field} is not a list of floats`, { details: { context, field } })
  }
  return count
}

function requireNumber(value: bigint | undefined, context: string, field: string): number {
  if (value === undefined) throw missing(context, field)
  return toSize(value, context, field)
}

function toSize(value: bigint, context: string, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OnnxFormatError('ONNX_BAD_FIELD', `${context}: ${field} out of range`, { details: { context, field, value: value.toString() } })
  }
  return Number(value)
}

function missing(context: string, field: string): OnnxFormatError {
  return new OnnxFormatError('ONNX_MISSING_FIELD', `${context}: ${field} is missing`, { details: { context, field } })
}

function badTensor(name: string, reason: string, details: Record<string, unknown>): OnnxFormatError {
  return new OnnxFormatError('ONNX_BAD_TENSOR', `initializer ${name}: ${reason}`, { details: { name, ...details } })
}
