// Parsing of command-line values, each failure naming its flag.
import { fromHex } from '../runtime/crypto/hash.ts'
import { parseOpen } from '../genesis/tokenomics.ts'
import { DEV_ACCOUNT_NAMES, devAccount, isDevAccountName } from '../genesis/devAccounts.ts'
import { CliError } from './io.ts'

export function parsePositiveInt(text: string, flag: string, min = 1): number {
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < min) throw new CliError('BAD_ARGUMENT', `${flag} must be an integer of at least ${min}`)
  return Number(text)
}

export function parsePort(text: string, flag: string): number {
  const port = parsePositiveInt(text, flag, 0)
  if (port > 65535) throw new CliError('BAD_ARGUMENT', `${flag} must be a port number (0-65535)`)
  return port
}

/** A 0x-prefixed 20-byte address, or a dev account's name (alice, bob, …) for its address. */
export function parseAddress(text: string, flag: string): Uint8Array {
  if (isDevAccountName(text)) return devAccount(text).address
  const bytes = /^0x[0-9a-fA-F]{40}$/.test(text) ? fromHex(text) : undefined
  if (bytes === undefined) throw new CliError('BAD_ARGUMENT', `${flag} must be a 0x-prefixed 20-byte address or a dev account (${DEV_ACCOUNT_NAMES.join(', ')})`)
  return bytes
}

export function parseOpenAmount(text: string, flag: string): bigint {
  if (text.trim().startsWith('-')) throw new CliError('BAD_ARGUMENT', `${flag} cannot be negative (got ${text})`)
  const amount = parseOpen(text)
  if (amount === undefined) throw new CliError('BAD_ARGUMENT', `${flag} must be an amount of OPEN such as 12.5 (at most 18 decimals)`)
  return amount
}

export const DEFAULT_RPC_URL = 'http://127.0.0.1:9944'

/** A node's JSON-RPC address: a URL, or host:port taken as http:// (the default when absent). */
export function parseRpcUrl(text: string | undefined, flag = '--rpc'): string {
  if (text === undefined) return DEFAULT_RPC_URL
  const url = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text) ? text : `http://${text}`
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  if (parsed === undefined || !['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol) || parsed.hostname === '') {
    throw new CliError('BAD_ARGUMENT', `${flag} must be a node's address such as http://127.0.0.1:9944 (got ${text})`)
  }
  return url
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 }

/** A size such as 268435456, 256MiB, 512MB or 1GiB. */
export function parseBytes(text: string, flag: string): number {
  const match = /^([0-9]{1,15}(?:\.[0-9]+)?)\s*([a-zA-Z]*)$/.exec(text.trim())
  const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()]
  const bytes = match === null || unit === undefined ? NaN : Math.floor(Number(match[1]) * unit)
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new CliError('BAD_ARGUMENT', `${flag} must be a size such as 268435456, 256MiB or 1GiB`)
  return bytes
}

export const DEFAULT_SERVING_URL = 'http://127.0.0.1:8000'
