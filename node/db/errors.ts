// The storage errors of the node's database. Every one says why (the OS's cause, the damaged file)
// in its message and carries `path` and `cause` (an errno-style code, node/storage/ioCause.ts) in
// its details, so logs and RPC answers name the problem without a stack trace.
import { OpenLedgerError } from '../../runtime/errors.ts'

export type DatabaseErrorCode = 'DB_OPEN_FAILED' | 'DB_LOCKED' | 'DB_WRITE_FAILED' | 'DB_READ_FAILED' | 'DB_CORRUPT'
export class DatabaseError extends OpenLedgerError<DatabaseErrorCode> {}

/** What an operator can do about a damaged store; every DB_CORRUPT message ends with it. */
export const CORRUPT_STORE_WAY_OUT =
  'the node will not run on a damaged store: move the db folder aside and resync from peers (a validator keeps its consensus folder), or restore a snapshot; see README "When the store is damaged"'
