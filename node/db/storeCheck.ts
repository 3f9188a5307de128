// Checks a LevelDB folder's files before the node opens it. classic-level does not expose
// LevelDB's paranoid_checks or verify_checksums, and without them LevelDB absorbs damage: its
// recovery drops a log record whose checksum fails (and the rest of its 32 KiB block) and writes
// "(ignoring error)" to its LOG, and a damaged table block is read as whatever it holds. So the node
// verifies the checksums itself, with LevelDB's formats (doc/log_format.md, doc/table_format.md):
//
//   *.log, MANIFEST-*  32 KiB blocks of records [masked crc32c u32][length u16][type u8][payload].
//                      A bad record with bytes after it is damage (recovery would drop them); a
//                      short record, or a bad last one, at the very end is a torn tail — a write
//                      that never returned, so nothing the node acknowledged — and is allowed.
//   *.ldb, *.sst       footer -> index block -> data blocks; each block carries [type u8][masked
//                      crc32c u32] after its contents (snappy-compressed when type is 1).
//
// Only the files LevelDB will read are checked: the manifest CURRENT names, the logs it will
// replay and the tables that manifest lists as live. A kill -9 during a compaction or a flush
// leaves a half-written table the manifest never named (LevelDB syncs a table before it records
// it); LevelDB deletes such files at open, and calling them damage would keep a healthy node down.
//
// Reading every live table costs one sequential read of the store per start: `npm run bench --
// --only storeCheck` has the figures.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CORRUPT_STORE_WAY_OUT, DatabaseError } from './errors.ts'

const LOG_BLOCK_BYTES = 32 * 1024
const LOG_HEADER_BYTES = 7
const FOOTER_BYTES = 48
const BLOCK_TRAILER_BYTES = 5
const TABLE_MAGIC = 0xdb4775248b80fb57n
const MASK_DELTA = 0xa282ead8

// ---- crc32c (Castagnoli), slicing by 4

const CRC_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 4 }, () => new Uint32Array(256))
  const first = tables[0] as Uint32Array
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    first[i] = c >>> 0
  }
  for (let t = 1; t < 4; t++) {
    const previous = tables[t - 1] as Uint32Array
    const table = tables[t] as Uint32Array
    for (let i = 0; i < 256; i++) table[i] = ((previous[i] as number) >>> 8) ^ (first[(previous[i] as number) & 0xff] as number)
  }
  return tables
})()

export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  const [t0, t1, t2, t3] = CRC_TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let crc = ~initial >>> 0
  let i = start
  for (; i + 4 <= end; i += 4) {
    crc ^= (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24)
    crc = (t3[crc & 0xff] as number) ^ (t2[(crc >>> 8) & 0xff] as number) ^ (t1[(crc >>> 16) & 0xff] as number) ^ (t0[crc >>> 24] as number)
  }
  for (; i < end; i++) crc = (t0[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8)
  return ~crc >>> 0
}

function unmask(masked: number): number {
  const rotated = (masked - MASK_DELTA) >>> 0
  return ((rotated >>> 17) | (rotated << 15)) >>> 0
}

// ---- damage

export interface StoreDamage {
  readonly file: string
  readonly offset: number
  readonly reason: string
}

function damaged(dir: string, damage: StoreDamage): DatabaseError {
  return new DatabaseError('DB_CORRUPT', `the database ${dir} is damaged: ${damage.file} ${damage.reason} at byte ${damage.offset}; ${CORRUPT_STORE_WAY_OUT}`, {
    details: { path: join(dir, damage.file), cause: 'CORRUPTION', offset: damage.offset, reason: damage.reason },
  })
}

// ---- log files

/** Whether any byte from `from` on is not zero (a torn write leaves nothing after itself). */
function anythingAfter(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return true
  return false
}

/**
 * The first damaged record of a log-format file, or undefined. LevelDB writes a record (header and
 * payload) with one write at the end of the file, so a crash leaves at most one short record at
 * the very end: that torn tail is allowed (its write never returned). Anything else is damage: a
 * length no writer produces, or a record that fails its checksum with bytes after it (which
 * LevelDB's recovery would drop, from there to the end of the 32 KiB block or beyond).
 */
export function checkLogFile(bytes: Uint8Array): { offset: number; reason: string } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  while (offset < bytes.length) {
    const blockEnd = (Math.floor(offset / LOG_BLOCK_BYTES) + 1) * LOG_BLOCK_BYTES
    if (blockEnd - offset < LOG_HEADER_BYTES) {
      offset = blockEnd // a block's zero trailer
      continue
    }
    if (offset + LOG_HEADER_BYTES > bytes.length) return undefined // a torn header at the end
    const masked = view.getUint32(offset, true)
    const length = view.getUint16(offset + 4, true)
    const type = bytes[offset + 6] as number
    if (masked === 0 && length === 0 && type === 0) {
      if (anythingAfter(bytes, offset)) {
        offset = blockEnd // zero padding: LevelDB skips the rest of the block
        continue
      }
      return undefined
    }
    const end = offset + LOG_HEADER_BYTES + length
    if (end > blockEnd) return { offset, reason: 'has a log record longer than its block' }
    if (end > bytes.length) return undefined // a torn record at the end
    const reason = type < 1 || type > 4 ? `has a log record of unknown type ${type}` : unmask(masked) !== crc32c(bytes, offset + 6, end) ? 'has a log record whose checksum fails' : undefined
    if (reason !== undefined) return anythingAfter(bytes, end) ? { offset, reason } : undefined
    offset = end
  }
  return undefined
}

// ---- table files

function readVarint(bytes: Uint8Array, at: { offset: number }): number {
  let result = 0
  let shift = 0
  for (;;) {
    if (at.offset >= bytes.length || shift > 49) throw new RangeError('bad varint')
    const byte = bytes[at.offset++] as number
    result += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) return result
    shift += 7
  }
}

/** Snappy's raw format (the only compression LevelDB uses). */
export function snappyDecompress(input: Uint8Array): Uint8Array {
  const at = { offset: 0 }
  const length = readVarint(input, at)
  if (length > 64 * 1024 * 1024) throw new RangeError('snappy block too large')
  const out = new Uint8Array(length)
  let op = 0
  let ip = at.offset
  while (ip < input.length) {
    const tag = input[ip++] as number
    let copyLength: number
    let distance: number
    switch (tag & 3) {
      case 0: {
        let literal = tag >>> 2
        if (literal >= 60) {
          const extra = literal - 59
          literal = 0
          for (let k = 0; k < extra; k++) literal += (input[ip + k] as number) * 2 ** (8 * k)
          ip += extra
        }
        literal += 1
        if (ip + literal > input.length || op + literal > length) throw new RangeError('snappy literal out of range')
        out.set(input.subarray(ip, ip + literal), op)
        ip += literal
        op += literal
        continue
      }
      case 1:
        copyLength = 4 + ((tag >>> 2) & 7)
        distance = ((tag >>> 5) << 8) | (input[ip++] as number)
        break
      case 2:
        copyLength = 1 + (tag >>> 2)
        distance = (input[ip] as number) | ((input[ip + 1] as number) << 8)
        ip += 2
        break
      default:
        copyLength = 1 + (tag >>> 2)
        distance = ((input[ip] as number) | ((input[ip + 1] as number) << 8) | ((input[ip + 2] as number) << 16) | ((input[ip + 3] as number) << 24)) >>> 0
        ip += 4
    }
    if (distance === 0 || distance > op || op + copyLength > length || ip > input.length) throw new RangeError('snappy copy out of range')
    for (let k = 0; k < copyLength; k++, op++) out[op] = out[op - distance] as number
  }
  if (op !== length) throw new RangeError('snappy block shorter than its header says')
  return out
}

interface BlockHandle {
  readonly offset: number
  readonly size: number
}

/** Checks a block's checksum (over its stored, compressed bytes); returns its compression type. */
function verifyBlock(file: Uint8Array, handle: BlockHandle): number {
  const end = handle.offset + handle.size
  if (end + BLOCK_TRAILER_BYTES > file.length) throw new RangeError('points past its end')
  const masked = new DataView(file.buffer, file.byteOffset + end + 1, 4).getUint32(0, true)
  if (unmask(masked) !== crc32c(file, handle.offset, end + 1)) throw new RangeError('has a block whose checksum fails')
  return file[end] as number
}

/** A block's contents after its checksum passed (decompressed); throws a reason otherwise. */
function readBlock(file: Uint8Array, handle: BlockHandle): Uint8Array {
  const type = verifyBlock(file, handle)
  const contents = file.subarray(handle.offset, handle.offset + handle.size)
  if (type === 0) return contents
  if (type === 1) return snappyDecompress(contents)
  throw new RangeError(`has a block of unknown compression ${type}`)
}

/** The values of a block's entries (the block handles, in an index block). */
function blockValues(block: Uint8Array): Uint8Array[] {
  if (block.length < 4) throw new RangeError('has a block too short for its restart array')
  const restarts = new DataView(block.buffer, block.byteOffset + block.length - 4, 4).getUint32(0, true)
  const limit = block.length - 4 * (restarts + 1)
  if (limit < 0) throw new RangeError('has a block with a bad restart array')
  const values: Uint8Array[] = []
  const at = { offset: 0 }
  while (at.offset < limit) {
    readVarint(block, at) // shared key bytes
    const unshared = readVarint(block, at)
    const valueLength = readVarint(block, at)
    at.offset += unshared
    if (at.offset + valueLength > limit) throw new RangeError('has a block entry past its end')
    values.push(block.subarray(at.offset, at.offset + valueLength))
    at.offset += valueLength
  }
  return values
}

function readHandle(bytes: Uint8Array, at = { offset: 0 }): BlockHandle {
  return { offset: readVarint(bytes, at), size: readVarint(bytes, at) }
}

/** The first damage in a table file, or undefined when every block's checksum passes. */
export function checkTableFile(file: Uint8Array): { offset: number; reason: string } | undefined {
  if (file.length < FOOTER_BYTES) return { offset: 0, reason: 'is shorter than a table footer' }
  const footer = file.subarray(file.length - FOOTER_BYTES)
  if (new DataView(footer.buffer, footer.byteOffset + 40, 8).getBigUint64(0, true) !== TABLE_MAGIC) return { offset: file.length - 8, reason: 'has no table magic number' }
  let current: BlockHandle = { offset: file.length - FOOTER_BYTES, size: FOOTER_BYTES }
  try {
    const at = { offset: 0 }
    const metaIndex = readHandle(footer, at)
    const index = readHandle(footer, at)
    current = metaIndex
    // data and meta blocks: the checksum is enough (it covers the stored bytes)
    for (const value of blockValues(readBlock(file, metaIndex))) {
      current = readHandle(value)
      verifyBlock(file, current)
    }
    current = index
    for (const value of blockValues(readBlock(file, index))) {
      current = readHandle(value)
      verifyBlock(file, current)
    }
    return undefined
  } catch (error) {
    return { offset: current.offset, reason: error instanceof RangeError ? error.message : 'cannot be parsed' }
  }
}

// ---- the manifest: which files are live

/** The payloads of a log-format file's records, fragments joined (up to a torn or bad tail). */
function logRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Uint8Array[] = []
  let parts: Uint8Array[] = []
  let offset = 0
  while (offset + LOG_HEADER_BYTES <= bytes.length) {
    const blockEnd = (Math.floor(offset / LOG_BLOCK_BYTES) + 1) * LOG_BLOCK_BYTES
    if (blockEnd - offset < LOG_HEADER_BYTES) {
      offset = blockEnd
      continue
    }
    const masked = view.getUint32(offset, true)
    const length = view.getUint16(offset + 4, true)
    const type = bytes[offset + 6] as number
    const end = offset + LOG_HEADER_BYTES + length
    if (type === 0 || end > Math.min(blockEnd, bytes.length) || unmask(masked) !== crc32c(bytes, offset + 6, end)) break
    const payload = bytes.subarray(offset + LOG_HEADER_BYTES, end)
    if (type === 1) records.push(payload) // full
    else if (type === 2) parts = [payload] // first
    else if (type === 3) parts.push(payload) // middle
    else if (type === 4) records.push(Buffer.concat([...parts, payload])) // last
    offset = end
  }
  return records
}

export interface LiveFiles {
  /** logs numbered at least this are replayed at open */
  readonly logNumber: number
  readonly prevLogNumber: number
  /** table file numbers the current version holds */
  readonly tables: ReadonlySet<number>
}

/**
 * The live files a manifest describes, from its version edits (LevelDB's version_edit.cc: tags 1
 * comparator, 2 log number, 3 next file, 4 last sequence, 5 compact pointer, 6 deleted file,
 * 7 new file, 9 previous log number). Undefined for anything it cannot read: the caller then checks
 * every file, as if it knew nothing.
 */
export function liveFiles(manifest: Uint8Array): LiveFiles | undefined {
  let logNumber = 0
  let prevLogNumber = 0
  const tables = new Set<number>()
  try {
    for (const edit of logRecords(manifest)) {
      const at = { offset: 0 }
      const slice = () => {
        const length = readVarint(edit, at) // (read first: it moves at.offset)
        at.offset += length
      }
      while (at.offset < edit.length) {
        const tag = readVarint(edit, at)
        if (tag === 1) slice()
        else if (tag === 2) logNumber = readVarint(edit, at)
        else if (tag === 3 || tag === 4) readVarint(edit, at)
        else if (tag === 5) {
          readVarint(edit, at) // level
          slice() // key
        } else if (tag === 6) {
          readVarint(edit, at) // level
          tables.delete(readVarint(edit, at))
        }
        else if (tag === 7) {
          readVarint(edit, at) // level
          tables.add(readVarint(edit, at))
          readVarint(edit, at) // size
          slice() // smallest key
          slice() // largest key
        } else if (tag === 9) prevLogNumber = readVarint(edit, at)
        else return undefined
        if (at.offset > edit.length) return undefined
      }
    }
  } catch {
    return undefined
  }
  return { logNumber, prevLogNumber, tables }
}

/** The live set of the folder's current manifest, or undefined when there is none to read. */
async function currentLiveFiles(dir: string): Promise<{ manifest: string; live: LiveFiles } | undefined> {
  let manifest: string
  try {
    manifest = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  if (!/^MANIFEST-\d+$/.test(manifest)) return undefined
  let bytes: Uint8Array
  try {
    bytes = await readFile(join(dir, manifest))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const live = liveFiles(bytes)
  return live === undefined ? undefined : { manifest, live }
}

/** Whether LevelDB will read the file `name` at open (everything, when the manifest is unknown). */
function isRead(name: string, current: { manifest: string; live: LiveFiles } | undefined): boolean {
  if (current === undefined) return true
  if (name.startsWith('MANIFEST-')) return name === current.manifest
  const number = Number.parseInt(name, 10)
  if (!Number.isSafeInteger(number)) return true
  if (name.endsWith('.log')) return number >= current.live.logNumber || number === current.live.prevLogNumber
  return current.live.tables.has(number)
}

/**
 * Verifies the log, manifest and table files LevelDB will read from the folder `dir` (absent:
 * nothing to check). Throws DB_CORRUPT naming the first damaged file; returns the bytes checked.
 */
export async function checkStoreFiles(dir: string): Promise<{ files: number; bytes: number }> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { files: 0, bytes: 0 }
    throw error
  }
  const current = await currentLiveFiles(dir)
  let files = 0
  let bytes = 0
  for (const name of names.sort()) {
    const isLog = name.endsWith('.log') || name.startsWith('MANIFEST-')
    const isTable = name.endsWith('.ldb') || name.endsWith('.sst')
    if ((!isLog && !isTable) || !isRead(name, current)) continue
    let contents: Uint8Array
    try {
      contents = await readFile(join(dir, name))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue // removed by a compaction meanwhile
      throw error
    }
    const damage = isLog ? checkLogFile(contents) : checkTableFile(contents)
    if (damage !== undefined) throw damaged(dir, { file: name, ...damage })
    files++
    bytes += contents.length
  }
  return { files, bytes }
}
