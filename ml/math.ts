// Deterministic elementary functions for the training engine: exp, log, expm1 and tanh computed
// with our own range reduction and polynomials (the fdlibm algorithms, < 1 ulp) using only IEEE
// double + − × ÷, so every CPU and JS engine gives the same bits. Math.exp/log/tanh are not
// specified to be correctly rounded and differ between engines, so the engine never calls them.

/** 2^k for k in [-1074, 1023], each exact (built by repeated doubling and halving at load). */
const POW2_MIN = -1074
const POW2 = new Float64Array(1023 - POW2_MIN + 1)
{
  let p = 1
  for (let k = 0; k <= 1023; k++, p *= 2) POW2[k - POW2_MIN] = p
  p = 1
  for (let k = 0; k >= POW2_MIN; k--, p /= 2) POW2[k - POW2_MIN] = p
}

/** 2^k exactly, for an integer k in [-1074, 1023]. */
export function pow2(k: number): number {
  return POW2[k - POW2_MIN] as number
}

/** y·2^k with a single rounding (k in [-1074-52, 1024]); the split keeps each factor representable. */
function scaleByPow2(y: number, k: number): number {
  if (k > 1000) return y * pow2(k - 1000) * pow2(1000)
  if (k < -1000) return y * pow2(k + 1000) * pow2(-1000)
  return y * pow2(k)
}

// A view for reading the high and low words of a double (log needs the exponent field). The
// platform's byte order is detected once, so the words read are the same everywhere.
const BITS_F64 = new Float64Array(1)
const BITS_U32 = new Uint32Array(BITS_F64.buffer)
BITS_F64[0] = 1
const HIGH = BITS_U32[1] === 0x3ff00000 ? 1 : 0

const LN2_HI = 6.93147180369123816490e-01
const LN2_LO = 1.90821492927058770002e-10
const INV_LN2 = 1.44269504088896338700e+00
const EXP_OVERFLOW = 7.09782712893383973096e+02
const EXP_UNDERFLOW = -7.45133219101941108420e+02
const P1 = 1.66666666666666019037e-01
const P2 = -2.77777777770155933842e-03
const P3 = 6.61375632143793436117e-05
const P4 = -1.65339022054652515390e-06
const P5 = 4.13813679705723846039e-08
const TWO_POW_M28 = 3.725290298461914e-9

/** e^x (fdlibm e_exp.c). */
export function exp(x: number): number {
  if (x !== x) return x
  if (x > EXP_OVERFLOW) return Infinity
  if (x < EXP_UNDERFLOW) return 0
  const ax = x < 0 ? -x : x
  if (ax < TWO_POW_M28) return 1 + x
  let k = 0
  let hi = 0
  let lo = 0
  let r = x
  if (ax > 0.5 * LN2_HI) {
    k = x > 0 ? Math.floor(INV_LN2 * x + 0.5) : -Math.floor(0.5 - INV_LN2 * x)
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
  }
  const t = r * r
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
  if (k === 0) return 1 - ((r * c) / (c - 2) - r)
  const y = 1 - ((lo - (r * c) / (2 - c)) - hi)
  return scaleByPow2(y, k)
}

const Q1 = -3.33333333333331316428e-02
const Q2 = 1.58730158725481460165e-03
const Q3 = -7.93650757867487942473e-05
const Q4 = 4.00821782732936239552e-06
const Q5 = -2.01099218183624371326e-07
const FIFTY_SIX_LN2 = 38.816242111356935
const HALF_LN2 = 0.34657359027997264
const THREE_HALVES_LN2 = 1.0397207708399179
const TWO_POW_M54 = 5.551115123125783e-17

/** e^x − 1, accurate near 0 (fdlibm s_expm1.c). */
export function expm1(x: number): number {
  if (x !== x) return x
  const negative = x < 0
  const ax = negative ? -x : x
  if (ax >= FIFTY_SIX_LN2) {
    if (negative) return -1
    if (x > EXP_OVERFLOW) return Infinity
  }
  let k = 0
  let c = 0
  let r = x
  if (ax > HALF_LN2) {
    let hi: number
    let lo: number
    if (ax < THREE_HALVES_LN2) {
      if (!negative) { hi = x - LN2_HI; lo = LN2_LO; k = 1 } else { hi = x + LN2_HI; lo = -LN2_LO; k = -1 }
    } else {
      k = negative ? -Math.floor(0.5 - INV_LN2 * x) : Math.floor(INV_LN2 * x + 0.5)
      hi = x - k * LN2_HI
      lo = k * LN2_LO
    }
    r = hi - lo
    c = (hi - r) - lo
  } else if (ax < TWO_POW_M54) {
    return x
  }
  const hfx = 0.5 * r
  const hxs = r * hfx
  const r1 = 1 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))))
  const t = 3 - r1 * hfx
  let e = hxs * ((r1 - t) / (6 - r * t))
  if (k === 0) return r - (r * e - hxs)
  e = r * (e - c) - c
  e -= hxs
  if (k === -1) return 0.5 * (r - e) - 0.5
  if (k === 1) return r < -0.25 ? -2 * (e - (r + 0.5)) : 1 + 2 * (r - e)
  if (k <= -2 || k > 56) {
    const y = 1 - (e - r)
    return scaleByPow2(y, k) - 1
  }
  if (k < 20) {
    const y = (1 - pow2(-k)) - (e - r)
    return scaleByPow2(y, k)
  }
  const y = (r - (e + pow2(-k))) + 1
  return scaleByPow2(y, k)
}

const TWO_POW_M55 = 2.7755575615628914e-17

/** tanh(x) (fdlibm s_tanh.c, through expm1). */
export function tanh(x: number): number {
  if (x !== x) return x
  const negative = x < 0
  const ax = negative ? -x : x
  let z: number
  if (ax < 22) {
    if (ax < TWO_POW_M55) return x
    if (ax >= 1) {
      const t = expm1(2 * ax)
      z = 1 - 2 / (t + 2)
    } else {
      const t = expm1(-2 * ax)
      z = -t / (t + 2)
    }
  } else {
    z = 1
  }
  return negative ? -z : z
}

const TWO_POW_54 = 1.80143985094819840000e+16
const LG1 = 6.666666666666735130e-01
const LG2 = 3.999999999940941908e-01
const LG3 = 2.857142874366239149e-01
const LG4 = 2.222219843214978396e-01
const LG5 = 1.818357216161805012e-01
const LG6 = 1.531383769920937332e-01
const LG7 = 1.479819860511658591e-01

/** Natural logarithm (fdlibm e_log.c): log(0) = −∞, log(x < 0) = NaN. */
export function log(x: number): number {
  if (x !== x) return x
  if (x === 0) return -Infinity
  if (x < 0) return NaN
  if (x === Infinity) return x
  let k = 0
  if (x < 2.2250738585072014e-308) {
    k = -54
    x *= TWO_POW_54
  }
  BITS_F64[0] = x
  let hx = BITS_U32[HIGH] as number
  k += (hx >>> 20) - 1023
  hx &= 0x000fffff
  const i0 = (hx + 0x95f64) & 0x100000
  BITS_U32[HIGH] = hx | (i0 ^ 0x3ff00000) // x or x/2 in [sqrt(2)/2, sqrt(2))
  k += i0 >>> 20
  const f = (BITS_F64[0] as number) - 1
  const dk = k
  if ((0x000fffff & (2 + hx)) < 3) {
    if (f === 0) return k === 0 ? 0 : dk * LN2_HI + dk * LN2_LO
    const R = f * f * (0.5 - 0.3333333333333333 * f)
    return k === 0 ? f - R : dk * LN2_HI - ((R - dk * LN2_LO) - f)
  }
  const s = f / (2 + f)
  const z = s * s
  const w = z * z
  const t1 = w * (LG2 + w * (LG4 + w * LG6))
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
  const R = t2 + t1
  if (((hx - 0x6147a) | (0x6b851 - hx)) > 0) {
    const hfsq = 0.5 * f * f
    return k === 0 ? f - (hfsq - s * (hfsq + R)) : dk * LN2_HI - ((hfsq - (s * (hfsq + R) + dk * LN2_LO)) - f)
  }
  return k === 0 ? f - s * (f - R) : dk * LN2_HI - ((s * (f - R) - dk * LN2_LO) - f)
}
