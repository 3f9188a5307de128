// Typed storage items. A state key is [module index, item index, ...item key], so one module's
// items sit together and can be listed by prefix. Values are canonical encodings of their schema.
import type { Kind } from './codec/schema.ts'
import type { StateOverlay, StateReader } from './state/overlay.ts'
import { decodeStored } from './state/typedValues.ts'

export function storageKey(module: number, item: number, key: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + key.length)
  out[0] = module
  out[1] = item
  out.set(key, 2)
  return out
}

/** `key`'s value decoded as `kind`: typed through an overlay, else decoded once per stored bytes. */
function readTyped<T>(state: StateReader, key: Uint8Array, kind: Kind<T>): Promise<T | undefined> {
  if (state.getTyped !== undefined) return state.getTyped(key, kind)
  return state.get(key).then((bytes) => (bytes === undefined ? undefined : decodeStored(bytes, kind)))
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
      const value = await readTyped(state, key, kind)
      return value === undefined ? fallback : value
    },
    set(state, value) {
      state.setTyped(key, kind, value)
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
  return {
    key,
    prefix: storageKey(module, item),
    decodeValue: (bytes) => decodeStored(bytes, kind),
    get(state, id) {
      return readTyped(state, key(id), kind)
    },
    set(state, id, value) {
      state.setTyped(key(id), kind, value)
    },
    delete(state, id) {
      state.delete(key(id))
    },
  }
}

export const bytesKey = (id: Uint8Array): Uint8Array => id

// The two id encoders every module's keys use, big-endian so that a prefix scan lists ids in order.
// Which width an id has is fixed by its storage item forever (changing it moves every key).

/** 4 bytes: ids of a space a chain never exhausts (datanets, their contributions and versions, validator ids, chunks) */
export function u32Key(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}

/** 8 bytes: heights, and ids that grow with every transaction (jobs, model versions, requests, records, proposals) */
export function u64Key(value: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(value))
  return out
}
