// The deterministic training engine: one import for the tokenizer/data scripts, the ONNX exporter
// and the node. Pure computation (no IO, clock or Math.random); worker threads live in node/workers.
export * from './errors.ts'
export * from './math.ts'
export * from './random.ts'
export * from './model/config.ts'
export * from './model/params.ts'
export * from './model/forward.ts'
export * from './model/backward.ts'
export * from './train/hyperparameters.ts'
export * from './train/data.ts'
export * from './train/state.ts'
export * from './train/merkle.ts'
export * from './train/trainer.ts'
export * from './train/evaluate.ts'
export { KERNEL_ENV, kernelKind, type KernelKind } from './wasm/kernelModule.ts'

/**
 * The arithmetic of this engine, recorded in model lineage. Bump it (and the golden hashes in
 * test/ml/goldenJob.ts) with any change that alters a single bit of training or inference.
 */
export const ENGINE_VERSION = 'openledger-ml/2'
