// The consensus write-ahead log: every input the state machine consumes is appended before the
// machine acts on it, so a restarted validator replays the inputs of the unfinished height and
// reaches exactly the state it had (including its own votes, which it therefore never changes).
//
// File format (one file per height, `<dir>/<height>.wal`, the previous height's kept for
// inspection): records of [u32 length][u32 crc32][payload], big-endian. A torn or corrupt tail
// (a crash mid-append) ends the replay and is cut off, so the next append starts clean.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync, mkdirSync, ftruncateSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { OpenLedgerError } from '../../runtime/errors.ts'

export type WalErrorCode = 'WAL_CLOSED' | 'WAL_RECORD_TOO_LARGE' | 'WAL_WRITE_FAILED'
export class WalError extends OpenLedgerError<WalErrorCode> {}

/** The errno of a failed fs call (ENOSPC, EIO, …). */
function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/**
 * Writes all of `bytes` at `position`: a full disk first answers with a short write (the rest of
 * the file's last page), and only the next call fails with ENOSPC.
 */
function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done)
}

/** A failed write of a file consensus depends on: the driver stops on it (see ConsensusDriver). */
export function writeFailed(path: string, cause: unknown): WalError {
  const why = errnoOf(cause)
  return new WalError('WAL_WRITE_FAILED', `writing ${path} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, details: { path, cause: why } })
}

/** bytes: one record at most (a proposal carries its block) */
export const MAX_WAL_RECORD_BYTES = 32 * 1024 * 1024
const HEADER_BYTES = 8

export class ConsensusWal {
  readonly #dir: string
  #fd: number | undefined
  #height = -1
  #size = 0

  constructor(dir: string) {
    this.#dir = dir
    mkdirSync(dir, { recursive: true })
  }

  /** Opens the log of `height` (creating it), returning the records a previous run left there. */
  openHeight(height: number): Uint8Array[] {
    this.close()
    const path = this.#path(height)
    const records = readRecords(path)
    try {
      this.#fd = openSync(path, 'a+')
      // cut a torn tail so new records follow the last good one
      ftruncateSync(this.#fd, records.validBytes)
    } catch (cause) {
      this.close()
      throw writeFailed(path, cause)
    }
    this.#size = records.validBytes
    this.#height = height
    // keep only this height and the one before it
    for (const name of readdirSync(this.#dir)) {
      const match = /^(\d+)\.wal$/.exec(name)
      if (match !== null && Number(match[1]) < height - 1) rmSync(join(this.#dir, name), { force: true })
    }
    return records.payloads
  }

  /** Appends one record; with `sync` it is on disk when this returns. */
  append(payload: Uint8Array, options: { sync: boolean }): void {
    if (this.#fd === undefined) throw new WalError('WAL_CLOSED', 'the WAL has no open height')
    if (payload.length > MAX_WAL_RECORD_BYTES) throw new WalError('WAL_RECORD_TOO_LARGE', `WAL record of ${payload.length} bytes`)
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
    record.writeUInt32BE(payload.length, 0)
    record.writeUInt32BE(crc32(payload), 4)
    record.set(payload, HEADER_BYTES)
    // after a failed write or sync the log is closed: what follows must not land behind a record
    // whose state the kernel may already have forgotten (the node stops; a restart cuts the tail)
    const path = this.#path(this.#height)
    try {
      writeFully(this.#fd, record, this.#size)
      if (options.sync) fsyncSync(this.#fd)
    } catch (cause) {
      this.close()
      throw writeFailed(path, cause)
    }
    this.#size += record.length
  }

  get height(): number {
    return this.#height
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  #path(height: number): string {
    return join(this.#dir, `${height}.wal`)
  }
}

function readRecords(path: string): { payloads: Uint8Array[]; validBytes: number } {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { payloads: [], validBytes: 0 }
    throw error
  }
  const payloads: Uint8Array[] = []
  let offset = 0
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32BE(offset)
    const checksum = bytes.readUInt32BE(offset + 4)
    if (length > MAX_WAL_RECORD_BYTES || offset + HEADER_BYTES + length > bytes.length) break
    const payload = bytes.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length)
    if (crc32(payload) !== checksum) break
    payloads.push(new Uint8Array(payload))
    offset += HEADER_BYTES + length
  }
  return { payloads, validBytes: offset }
}

/** Writes a small file so that a reader sees the old or the new content, never a mix. */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const temporary = `${path}.tmp`
  try {
    const fd = openSync(temporary, 'w', 0o600)
    try {
      writeFully(fd, data, 0)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
    const dirFd = openSync(join(path, '..'), 'r')
    try {
      fsyncSync(dirFd)
    } finally {
      closeSync(dirFd)
    }
  } catch (cause) {
    throw writeFailed(path, cause)
  }
}
