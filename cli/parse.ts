// Parsing of command-line values, each failure naming its flag.
import { fromHex } from '../runtime/crypto/hash.ts'
import { parseOpen } from '../genesis/tokenomics.ts'
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

export function parseAddress(text: string, flag: string): Uint8Array {
  const bytes = /^0x[0-9a-fA-F]{40}$/.test(text) ? fromHex(text) : undefined
  if (bytes === undefined) throw new CliError('BAD_ARGUMENT', `${flag} must be a 0x-prefixed 20-byte address`)
  return bytes
}

export function parseOpenAmount(text: string, flag: string): bigint {
  const amount = parseOpen(text)
  if (amount === undefined) throw new CliError('BAD_ARGUMENT', `${flag} must be an amount of OPEN such as 12.5 (at most 18 decimals)`)
  return amount
}

export const DEFAULT_RPC_URL = 'http://127.0.0.1:9944'
