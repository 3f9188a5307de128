// A base model's `architecture`: the canonical JSON of its ModelConfig, i.e.
// RFC 8785 (JCS) for these values: keys sorted, no whitespace, integers only. The runtime checks
// what it can without the weights: a known kind, positive bounded sizes, dim divisible by heads,
// classes only for a classifier. Anything not in canonical form is refused, so one model has one
// architecture string and that string can be hashed.
import { BaseModelKind } from './state.ts'

export type ModelKind = 'lm' | 'classifier'

/**
 * The model family's shape (ml/model/config.ts describes the network it defines): the runtime
 * owns it because base models are registered and checked with it; ml/ computes with it.
 */
export interface ModelConfig {
  readonly kind: ModelKind
  /** tokens the model knows (the tokenizer's model vocabulary) */
  readonly vocab: number
  /** longest sequence; pos_emb has this many rows */
  readonly context: number
  readonly dim: number
  readonly layers: number
  readonly heads: number
  /** MLP width */
  readonly hidden: number
  /** classifier only: number of labels (0 for a language model) */
  readonly classes: number
}

export const ARCHITECTURE_LIMITS = Object.freeze({
  vocab: 1 << 20,
  context: 8_192,
  dim: 8_192,
  layers: 128,
  heads: 128,
  hidden: 65_536,
  classes: 1_024,
})

const KEYS = ['classes', 'context', 'dim', 'heads', 'hidden', 'kind', 'layers', 'vocab'] as const

/** The canonical JSON of a config (what `architecture` must be). */
export function canonicalArchitecture(config: ModelConfig): string {
  const ordered: Record<string, unknown> = {}
  for (const key of KEYS) ordered[key] = config[key]
  return JSON.stringify(ordered)
}

export type ArchitectureCheck = { readonly config: ModelConfig; readonly problem?: undefined } | { readonly config?: undefined; readonly problem: string }

/** Parses and checks an architecture string; `kind` is the registration's 0 (lm) or 1 (classifier). */
export function parseArchitecture(text: string, kind: number): ArchitectureCheck {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { problem: 'architecture is not JSON' }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'architecture must be a JSON object' }
  const value = raw as Record<string, unknown>
  const keys = Object.keys(value)
  if (keys.length !== KEYS.length || !KEYS.every((key) => Object.hasOwn(value, key))) return { problem: `architecture must have exactly the keys ${KEYS.join(', ')}` }
  if (value.kind !== 'lm' && value.kind !== 'classifier') return { problem: 'architecture.kind must be "lm" or "classifier"' }
  const expectedKind = value.kind === 'lm' ? BaseModelKind.lm : BaseModelKind.classifier
  if (kind !== expectedKind) return { problem: `kind ${kind} does not match architecture.kind "${value.kind}"` }
  const sizes: Record<string, number> = {}
  for (const key of ['vocab', 'context', 'dim', 'layers', 'heads', 'hidden', 'classes'] as const) {
    const size = value[key]
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > ARCHITECTURE_LIMITS[key]) return { problem: `architecture.${key} must be an integer in [0, ${ARCHITECTURE_LIMITS[key]}]` }
    if (key !== 'classes' && size === 0) return { problem: `architecture.${key} must be positive` }
    sizes[key] = size
  }
  const config: ModelConfig = {
    kind: value.kind, vocab: sizes.vocab ?? 0, context: sizes.context ?? 0, dim: sizes.dim ?? 0, layers: sizes.layers ?? 0, heads: sizes.heads ?? 0,
    hidden: sizes.hidden ?? 0, classes: sizes.classes ?? 0,
  }
  if (config.dim % config.heads !== 0) return { problem: 'architecture.dim must be divisible by architecture.heads' }
  if (config.kind === 'lm' && config.classes !== 0) return { problem: 'architecture.classes must be 0 for a language model' }
  if (config.kind === 'classifier' && config.classes < 2) return { problem: 'architecture.classes must be at least 2 for a classifier' }
  if (canonicalArchitecture(config) !== text) return { problem: 'architecture is not canonical JSON (sorted keys, no whitespace)' }
  return { config }
}
