// Typed storage items. A state key is [module index, item index, ...item key], so one module's
// items sit together and can be listed by prefix. Values are canonical encodings of their schema.
import { decodeTrusted, encode } from './codec/canonical.ts'
import type { Kind } from './codec/schema.ts'
import type { StateOverlay, StateReader } from './state/overlay.ts'

export function storageKey(module: number, item: number, key: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + key.length)
  out[0] = module
  out[1] = item
  out.set(key, 2)
  return out
}

export interface StorageValue<T> {
  readonly key: Uint8Array
  get(state: StateReader): Promise<T>
  set(state: StateOverlay, value: T): void
}

export function storageValue<T>(module: number, item: number, kind: Kind<T>, fallback: T): StorageValue<T> {
  const key = storageKey(module, item)
  return {
    key,
    async get(state) {
      const bytes = await state.get(key)
      return bytes === undefined ? fallback : kind.decode(decodeTrusted(bytes), 'storage')
    },
    set(state, value) {
      state.set(key, encode(kind.encode(value)))
    },
  }
}

export interface StorageMap<K, T> {
  key(id: K): Uint8Array
  readonly prefix: Uint8Array
  get(state: StateReader, id: K): Promise<T | undefined>
  set(state: StateOverlay, id: K, value: T): void
  delete(state: StateOverlay, id: K): void
  decodeValue(bytes: Uint8Array): T
}

export function storageMap<K, T>(module: number, item: number, keyBytes: (id: K) => Uint8Array, kind: Kind<T>): StorageMap<K, T> {
  const key = (id: K): Uint8Array => storageKey(module, item, keyBytes(id))
  const decodeValue = (bytes: Uint8Array): T => kind.decode(decodeTrusted(bytes), 'storage')
  return {
    key,
    prefix: storageKey(module, item),
    decodeValue,
    async get(state, id) {
      const bytes = await state.get(key(id))
      return bytes === undefined ? undefined : decodeValue(bytes)
    },
    set(state, id, value) {
      state.set(key(id), encode(kind.encode(value)))
    },
    delete(state, id) {
      state.delete(key(id))
    },
  }
}

export const bytesKey = (id: Uint8Array): Uint8Array => id
