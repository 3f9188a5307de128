// Proof of Attribution's arithmetic: one import for the node. Pure computation (no IO, clock or
// Math.random), the same bytes on every machine, kernel and thread count.
export * from './errors.ts'
export * from './fixedPoint.ts'
export * from './suffixArray.ts'
export * from './spanIndex.ts'
export * from './spans.ts'
export * from './knnShapley.ts'
export * from './features.ts'
export * from './influence.ts'
export * from './aggregate.ts'
