// datanets storage: parameters, datanets, contributions (and their index by content id),
// availability attestations, published versions and the nodes of each datanet's contribution
// tree. Item indices are permanent. Keys are fixed-width big-endian, so one datanet's
// contributions (or versions) sit together and can be listed by prefix off chain.
import * as k from '../../codec/schema.ts'
import { concatBytes } from '../../crypto/hash.ts'
import { defineParams } from '../../params.ts'
import { storageMap, storageValue, u32Key } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { ModuleIndex } from '../indices.ts'

/** holds every contribution deposit in escrow */
export const DATANETS_ACCOUNT = moduleAccount('datanets')

export const StorageItem = {
  params: 0,
  datanetCount: 1,
  datanet: 2,
  contribution: 3,
  contributionByCid: 4,
  attestation: 5,
  version: 6,
  treeNode: 7,
} as const

export const MAX_NAME_CHARS = 64
export const MAX_DESCRIPTION_CHARS = 1_024
export const MAX_TAGS = 16
export const MAX_TAG_CHARS = 32
export const MAX_LICENCE_CHARS = 64
export const MAX_CURATORS = 32
export const MAX_METADATA_CHARS = 1_024
export const MAX_REASON_CHARS = 256

export const datanetsParamsKind = k.struct({
  /** basis points of a rejected contribution's deposit sent to the treasury; the rest is refunded */
  rejectionForfeitBps: k.uint,
  /** bytes: the largest contribution any datanet may accept (each datanet may set less) */
  maxContributionBytes: k.uint,
})
export type DatanetsParams = k.Infer<typeof datanetsParamsKind>

export const DEFAULT_DATANETS_PARAMS: DatanetsParams = Object.freeze({
  rejectionForfeitBps: 2_000, // 20 %
  maxContributionBytes: 64 * 1024 * 1024,
})

/** The governable datanet parameters (runtime/params.ts). */
export const datanetsParams = defineParams(
  { index: ModuleIndex.datanets, name: 'datanets' },
  StorageItem.params,
  datanetsParamsKind,
  DEFAULT_DATANETS_PARAMS,
  {
    rejectionForfeitBps: { type: 'bps', description: "share of a rejected contribution's deposit sent to the treasury; the rest is refunded" },
    maxContributionBytes: { type: 'bytes', min: 1, max: 4 * 1024 * 1024 * 1024, description: 'the largest contribution any datanet may accept' },
  },
)

export function datanetsParamsProblem(params: DatanetsParams): string | undefined {
  return datanetsParams.problem(params)?.message
}

export const Visibility = { public: 0, private: 1 } as const
export const ContributionStatus = { pending: 0, available: 1, accepted: 2, rejected: 3, withdrawn: 4 } as const
export type ContributionStatus = (typeof ContributionStatus)[keyof typeof ContributionStatus]
export const CONTRIBUTION_STATUS_NAMES = Object.keys(ContributionStatus) as Array<keyof typeof ContributionStatus>

export const rulesKind = k.struct({
  /** base units escrowed per contribution */
  deposit: k.amount,
  /** base units per byte paid to the owner when contributing */
  feePerByte: k.amount,
  /** accepted format codes (formats.ts) */
  formats: k.list(k.uint, 4),
  /** bytes: the largest contribution this datanet takes */
  maxBytes: k.uint,
})
export type ContributionRules = k.Infer<typeof rulesKind>

export const metadataFields = {
  name: k.string(MAX_NAME_CHARS),
  description: k.string(MAX_DESCRIPTION_CHARS),
  tags: k.list(k.string(MAX_TAG_CHARS), MAX_TAGS),
  /** an SPDX licence id (advisory) */
  licence: k.string(MAX_LICENCE_CHARS),
  /** 0 public, 1 private: advisory (blobs are served to anyone who knows the content id) */
  visibility: k.uint,
}

export const datanetKind = k.struct({
  id: k.uint,
  owner: k.address,
  ...metadataFields,
  rules: rulesKind,
  curators: k.list(k.address, MAX_CURATORS),
  /** contributions submitted: the next contribution index */
  contributions: k.uint,
  /** tree positions used: the next accepted contribution's position */
  positions: k.uint,
  /** accepted and not withdrawn */
  live: k.uint,
  liveBytes: k.uint,
  liveRows: k.uint,
  /** the current contribution tree root */
  root: k.hash,
  versions: k.uint,
  /** the tree changed since the last version */
  dirty: k.bool,
  createdHeight: k.uint,
})
export type Datanet = k.Infer<typeof datanetKind>

export const contributionKind = k.struct({
  datanet: k.uint,
  index: k.uint,
  contributor: k.address,
  /** the blob's content id (the Merkle root of its chunks, node/blobs) */
  cid: k.hash,
  size: k.uint,
  rows: k.uint,
  format: k.uint,
  metadata: k.string(MAX_METADATA_CHARS),
  /** base units escrowed: refunded on withdrawal, partly forfeited on rejection */
  deposit: k.amount,
  /** base units paid to the owner */
  fee: k.amount,
  status: k.uint,
  /** voting power of the validators that attested availability */
  attestedPower: k.uint,
  submittedHeight: k.uint,
  decidedHeight: k.uint,
  /** tree position, once accepted */
  position: k.optional(k.uint),
  /** versions published before the withdrawal: it is in none after them */
  withdrawnAfterVersion: k.optional(k.uint),
})
export type Contribution = k.Infer<typeof contributionKind>

export const versionKind = k.struct({
  datanet: k.uint,
  version: k.uint,
  /** contribution tree root (versionTree.ts) */
  root: k.hash,
  /** tree positions covered: contributions accepted at positions [0, positions) and not withdrawn */
  positions: k.uint,
  contributions: k.uint,
  bytes: k.uint,
  rows: k.uint,
  publishedHeight: k.uint,
  /** ms since epoch (block time) */
  publishedAt: k.uint,
  note: k.string(MAX_REASON_CHARS),
})
export type DatanetVersion = k.Infer<typeof versionKind>

export const datanetKey = (id: number): Uint8Array => u32Key(id)
export const contributionKey = ({ datanet, index }: { datanet: number; index: number }): Uint8Array => concatBytes(u32Key(datanet), u32Key(index))
export const cidKey = ({ datanet, cid }: { datanet: number; cid: Uint8Array }): Uint8Array => concatBytes(u32Key(datanet), cid)
export const attestationKey = ({ datanet, index, validator }: { datanet: number; index: number; validator: Uint8Array }): Uint8Array => concatBytes(u32Key(datanet), u32Key(index), validator)
export const versionKey = ({ datanet, version }: { datanet: number; version: number }): Uint8Array => concatBytes(u32Key(datanet), u32Key(version))
export const treeNodeKey = ({ datanet, height, index }: { datanet: number; height: number; index: number }): Uint8Array => concatBytes(u32Key(datanet), Uint8Array.of(height), u32Key(index))

const M = ModuleIndex.datanets
export const params = datanetsParams.storage
export const datanetCount = storageValue(M, StorageItem.datanetCount, k.uint, 0)
/** id (from 1) -> datanet */
export const datanets = storageMap(M, StorageItem.datanet, datanetKey, datanetKind)
export const contributions = storageMap(M, StorageItem.contribution, contributionKey, contributionKind)
/** (datanet, cid) -> index of the live (not rejected, not withdrawn) contribution of those bytes */
export const contributionByCid = storageMap(M, StorageItem.contributionByCid, cidKey, k.uint)
/** (datanet, index, validator operator) -> power counted */
export const attestations = storageMap(M, StorageItem.attestation, attestationKey, k.uint)
export const versions = storageMap(M, StorageItem.version, versionKey, versionKind)
/** (datanet, height, index) -> node hash; absent = the empty subtree of that height */
export const treeNodes = storageMap(M, StorageItem.treeNode, treeNodeKey, k.hash)
