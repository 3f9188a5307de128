// Exact KNN-Shapley (Jia et al., "Efficient Task-Specific Data Valuation for Nearest Neighbor
// Algorithms", 2019): the Shapley value of every training point for the utility "fraction of the
// K nearest neighbours that carry the test point's label", in closed form after one sort per test
// point (O(N log N)).
//
// For a test point, sort the training points by distance, nearest first (ties: lower index
// first), α_1 … α_N, and let m_i = 1 if α_i's label is the test label, else 0:
//   s(α_N) = m_N · min(K, N) / (K · N)     (m_N / N once N ≥ K, as the paper states it)
//   s(α_i) = s(α_{i+1}) + (m_i − m_{i+1}) / K · min(K, i) / i
// Fixed point: every term is Δ · floor(Q · min(K, i) / (K · i)) with Δ ∈ {−1, 0, 1} and
// Q = 2^32, summed in the order above, then over test points in their order: integers below 2^53,
// exact on every machine. Distances are squared Euclidean in float64 over float32 features, summed
// over dimensions in order (no FMA in JavaScript), so the sort is the same everywhere too.
//
// The features are the classifier's own: its pooled penultimate vector (the input of cls.w), see
// classifierFeatures in features.ts.
import { AttributionError } from './errors.ts'
import { mulDivFloor } from './fixedPoint.ts'

/** 1.0 in the values' fixed point (Q32) */
export const SHAPLEY_ONE = 4_294_967_296

export interface LabelledFeatures {
  /** [count, dim] row-major */
  readonly features: Float32Array
  readonly labels: ArrayLike<number>
}

/**
 * Each training point's KNN-Shapley value summed over the test points (Q32 integers; divide by
 * the number of test points for the mean). Positive: the point helps classify the test set.
 */
export function knnShapley(train: LabelledFeatures, test: LabelledFeatures, dim: number, k: number): Float64Array {
  const n = train.labels.length
  const m = test.labels.length
  if (!Number.isSafeInteger(dim) || dim < 1) throw new AttributionError('INVALID_ARGUMENT', `dim must be a positive integer, got ${dim}`)
  if (!Number.isSafeInteger(k) || k < 1 || k > 1 << 16) throw new AttributionError('INVALID_ARGUMENT', `k must be in 1..65536, got ${k}`)
  if (train.features.length !== n * dim || test.features.length !== m * dim) throw new AttributionError('INVALID_ARGUMENT', 'features must be [count, dim] for every label')
  if (n === 0 || m === 0) throw new AttributionError('EMPTY', 'no training or no test points')
  for (const set of [train, test]) {
    for (let i = 0; i < set.features.length; i++) if (!Number.isFinite(set.features[i]!)) throw new AttributionError('INVALID_ARGUMENT', `feature ${i} is not finite`)
  }
  // term(i) = floor(Q · min(K, i) / (K · i)) for ranks i = 1..N, shared by every test point
  const term = new Float64Array(n + 1)
  for (let i = 1; i <= n; i++) term[i] = mulDivFloor(SHAPLEY_ONE, Math.min(k, i), k * i)
  const last = term[n]!
  const values = new Float64Array(n)
  const distance = new Float64Array(n)
  const order = new Uint32Array(n)
  for (let t = 0; t < m; t++) {
    const x = test.features.subarray(t * dim, (t + 1) * dim)
    for (let i = 0; i < n; i++) {
      const row = i * dim
      let d = 0
      for (let j = 0; j < dim; j++) {
        const diff = train.features[row + j]! - x[j]!
        d += diff * diff
      }
      distance[i] = d
      order[i] = i
    }
    order.sort((a, b) => distance[a]! - distance[b]! || a - b)
    const label = test.labels[t]
    let next = train.labels[order[n - 1]!] === label ? 1 : 0
    let s = next * last
    values[order[n - 1]!]! += s
    for (let i = n - 1; i >= 1; i--) {
      const point = order[i - 1]!
      const match = train.labels[point] === label ? 1 : 0
      s += (match - next) * term[i]!
      values[point]! += s
      next = match
    }
  }
  return values
}
