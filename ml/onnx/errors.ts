// The typed errors of the ONNX writer, its checking reader and the model exporter. Codes are
// permanent and bounded (usable as metric labels); the details say which field or tensor was wrong.
import { OpenLedgerError } from '../../runtime/errors.ts'

/** Bytes that are not a well-formed ONNX model, or not the model they were expected to be. */
export type OnnxFormatErrorCode =
  | 'ONNX_TRUNCATED'
  | 'ONNX_BAD_VARINT'
  | 'ONNX_BAD_WIRE_TYPE'
  | 'ONNX_BAD_FIELD'
  | 'ONNX_BAD_UTF8'
  | 'ONNX_MISSING_FIELD'
  | 'ONNX_BAD_TENSOR'
  | 'ONNX_INTERFACE_MISMATCH'
export class OnnxFormatError extends OpenLedgerError<OnnxFormatErrorCode> {}

/** A model description or weights that cannot be exported. */
export type OnnxExportErrorCode = 'ONNX_EXPORT_BAD_CONFIG' | 'ONNX_EXPORT_MISSING_TENSOR' | 'ONNX_EXPORT_BAD_TENSOR_SIZE'
export class OnnxExportError extends OpenLedgerError<OnnxExportErrorCode> {}
