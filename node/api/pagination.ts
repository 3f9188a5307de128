// Bounded lists: every `openledger_list*` method pages through records with these two helpers, so
// one call reads at most `count` records plus the ids it must skip inside the data's own bounds,
// and stops as soon as its caller has gone (the request's abort signal: client disconnected, server
// stopping). A `start` beyond the data is clamped to it, never walked down one read at a time.
//
//   listByIds({ first: 1, last: await counter.get(state), start, count, order: 'descending', signal },
//             (id) => records.get(state, id))
//   listEntries(state.entries(prefix), { count, signal }, ([key, value]) => decode(value))
import { RpcError } from '../rpc/errors.ts'

/** Most records one list call returns, and its default `count`. */
export const MAX_LIST = 100

export interface IdPage {
  /** Lowest and highest id that can hold a record (highest: the module's counter). */
  first: number
  last: number
  /** Where the caller asked to start (inclusive); undefined: `first` ascending, `last` descending. */
  start: number | undefined
  count: number | undefined
  order: 'ascending' | 'descending'
  signal: AbortSignal
}

/** Reads ids from `start` in `order` within [first, last] until `count` records were found. */
export async function listByIds<T>(page: IdPage, read: (id: number) => Promise<T | undefined>): Promise<T[]> {
  const limit = Math.min(page.count ?? MAX_LIST, MAX_LIST)
  const out: T[] = []
  if (page.order === 'ascending') {
    for (let id = Math.max(page.first, page.start ?? page.first); id <= page.last && out.length < limit; id++) {
      checkAborted(page.signal)
      const record = await read(id)
      if (record !== undefined) out.push(record)
    }
  } else {
    for (let id = Math.min(page.last, page.start ?? page.last); id >= page.first && out.length < limit; id--) {
      checkAborted(page.signal)
      const record = await read(id)
      if (record !== undefined) out.push(record)
    }
  }
  return out
}

/**
 * Maps entries of a state scan (key order) until `count` results (at most `max`, default MAX_LIST);
 * `map` returns undefined to skip one. The scan is bounded by the prefix's data and the signal.
 */
export async function listEntries<E, T>(entries: AsyncIterable<E>, page: { count: number | undefined; max?: number; signal: AbortSignal }, map: (entry: E) => T | undefined | Promise<T | undefined>): Promise<T[]> {
  const max = page.max ?? MAX_LIST
  const limit = Math.min(page.count ?? max, max)
  const out: T[] = []
  if (limit === 0) return out
  for await (const entry of entries) {
    checkAborted(page.signal)
    const result = await map(entry)
    if (result === undefined) continue
    out.push(result)
    if (out.length >= limit) break
  }
  return out
}

/** Throws the abort's reason when it is an RpcError (so the caller's code is kept), else a typed one. */
export function checkAborted(signal: AbortSignal): void {
  if (!signal.aborted) return
  const reason: unknown = signal.reason
  throw reason instanceof RpcError ? reason : new RpcError('INTERNAL_ERROR', 'request aborted', { cause: reason })
}
