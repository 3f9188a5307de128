// Database buckets: one prefix byte per kind of record in the single LevelDB of a node.
// These numbers are permanent: never renumber or reuse one.
export const Bucket = {
  /** chain metadata: genesis hash, head, finalized head, schema version */
  meta: 0x01,
  /** block hash -> encoded header */
  blockHeader: 0x02,
  /** block hash -> encoded body (transactions) */
  blockBody: 0x03,
  /** height (8-byte big-endian) -> block hash of the canonical chain */
  canonicalHash: 0x04,
  /** transaction hash -> [height, index] */
  txLocation: 0x05,
  /** block hash -> encoded receipts */
  blockReceipts: 0x06,
  /** block hash -> commit certificate */
  blockCommit: 0x07,
  /** state key hash -> current value (flat state, for fast reads) */
  stateValue: 0x10,
  /** merkle tree node id -> encoded node */
  stateNode: 0x11,
  /** [stale-since version, node id] -> empty: nodes that later versions no longer reference */
  stateStale: 0x12,
  /** version (8-byte big-endian) -> root node reference */
  stateRoot: 0x13,
  /** state key hash -> original key (preimage), for state reads by prefix and exports */
  statePreimage: 0x14,
  /** blob content id -> [size, chunk leaf hashes, reference count, unreferenced since (ms)] (node/blobs) */
  blobIndex: 0x20,
  /** [blob content id, owner] -> empty: who references a blob (its reference count is the number of owners) */
  blobPin: 0x21,
  /** [arrival sequence (8-byte big-endian), transaction hash] -> encoded transaction: local transactions not yet in a block (node/mempool/txJournal.ts) */
  txJournal: 0x30,
} as const
export type Bucket = (typeof Bucket)[keyof typeof Bucket]

/** 8-byte big-endian height: the key of the height-indexed buckets (the runtime's u64 key encoder) */
export { u64Key as heightKey } from '../../runtime/storage.ts'
