// The serving engine's public face: build one with createServingEngine(options) (types.ts has the contract).
export { createServingEngine, Engine } from './engine.ts'
export { checkExecutionProvider } from './modelRunner.ts'
export { mergeAdapters, concatenateAdapters } from './merge.ts'
export { sampleToken, drawUniform } from './sampling.ts'
