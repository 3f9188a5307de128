// datanets calls. Every call checks everything before its first write, or relies on the state
// transition's per-call checkpoint to revert: a failed call changes nothing but its fee.
import * as k from '../../codec/schema.ts'
import { bytesEqual } from '../../codec/canonical.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import { defineCall, type CallContext, type CallResult } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { bpsOf, sameAddress, TREASURY_ACCOUNT } from '../accounts.ts'
import { payFromModuleAccount, transfer } from '../balances/index.ts'
import { countedSetAt } from '../staking/index.ts'
import { DatanetsError } from './errors.ts'
import {
  AvailabilityAttested, ContributionAccepted, ContributionRejected, ContributionWithdrawn, Contributed, CuratorAdded, CuratorRemoved,
  DataAvailable, DatanetCreated, MetadataUpdated, OwnershipTransferred, VersionPublished,
} from './events.ts'
import { isFormat } from './formats.ts'
import {
  attestations, contributionByCid, contributions, ContributionStatus, datanetCount, datanets, DATANETS_ACCOUNT, MAX_CURATORS,
  MAX_METADATA_CHARS, MAX_REASON_CHARS, metadataFields, params as datanetsParams, rulesKind, treeNodes, versions, Visibility,
  type Contribution, type ContributionRules, type Datanet,
} from './state.ts'
import { contributionLeaf, EMPTY_SUBTREE, EMPTY_TREE_ROOT, MAX_TREE_LEAVES, TREE_DEPTH, treeNodeHash } from './versionTree.ts'

// Weights (gas): about 150 per state read or write.
export const CREATE_WEIGHT = 5_000
export const UPDATE_METADATA_WEIGHT = 2_000
export const CURATOR_WEIGHT = 1_000
export const TRANSFER_OWNERSHIP_WEIGHT = 1_000
/** two balance transfers, the contribution, its content-id index and the datanet record */
export const CONTRIBUTE_WEIGHT = 3_000
/** the validator set read, the attestation record, the contribution */
export const ATTEST_WEIGHT = 2_000
/** a tree path update: TREE_DEPTH sibling reads and node writes */
export const TREE_UPDATE_WEIGHT = TREE_DEPTH * 2 * 150
export const ACCEPT_WEIGHT = 1_500 + TREE_UPDATE_WEIGHT
export const REJECT_WEIGHT = 2_500
export const WITHDRAW_WEIGHT = 2_000 + TREE_UPDATE_WEIGHT
/** constant: the version root is the tree root kept up to date by accept and withdraw */
export const PUBLISH_WEIGHT = 1_500

const metadataArgs = k.struct({ datanet: k.uint, ...metadataFields })


function metadataProblem(meta: { name: string; tags: string[]; visibility: number }): CallResult {
  if (meta.name.trim().length === 0) return DatanetsError.InvalidName
  if (meta.visibility !== Visibility.public && meta.visibility !== Visibility.private) return DatanetsError.InvalidVisibility
  if (new Set(meta.tags).size !== meta.tags.length) return DatanetsError.DuplicateTag
  return undefined
}

async function rulesProblem(context: CallContext, rules: ContributionRules): Promise<CallResult> {
  if (rules.formats.length === 0 || !rules.formats.every(isFormat) || new Set(rules.formats).size !== rules.formats.length) return DatanetsError.InvalidFormats
  const { maxContributionBytes } = await datanetsParams.get(context.state)
  if (rules.maxBytes < 1 || rules.maxBytes > maxContributionBytes) return DatanetsError.InvalidMaxBytes
  return undefined
}

async function loadDatanet(context: CallContext, id: number): Promise<Datanet | CallResult> {
  return (await datanets.get(context.state, id)) ?? DatanetsError.UnknownDatanet
}

const isDatanet = (value: Datanet | CallResult): value is Datanet => value !== undefined && 'owner' in value

async function ownedDatanet(context: CallContext, id: number): Promise<Datanet | CallResult> {
  const datanet = await loadDatanet(context, id)
  if (!isDatanet(datanet)) return datanet
  return sameAddress(datanet.owner, context.sender) ? datanet : DatanetsError.NotOwner
}

export function isCurator(datanet: Datanet, account: Address): boolean {
  return sameAddress(datanet.owner, account) || datanet.curators.some((c) => sameAddress(c, account))
}

/** Sets one leaf of the datanet's contribution tree (undefined empties it); returns the new root. */
export async function setTreeLeaf(state: StateOverlay, datanet: number, position: number, leaf: Uint8Array | undefined): Promise<Uint8Array> {
  let node = leaf ?? (EMPTY_SUBTREE[0] as Uint8Array)
  let index = position
  for (let height = 0; height < TREE_DEPTH; height++) {
    const empty = EMPTY_SUBTREE[height] as Uint8Array
    if (bytesEqual(node, empty)) treeNodes.delete(state, { datanet, height, index })
    else treeNodes.set(state, { datanet, height, index }, node)
    const sibling = (await treeNodes.get(state, { datanet, height, index: index ^ 1 })) ?? empty
    node = (index & 1) === 0 ? treeNodeHash(node, sibling) : treeNodeHash(sibling, node)
    index >>>= 1
  }
  return node
}

export const create = defineCall({
  index: 0,
  name: 'create',
  args: k.struct({ ...metadataFields, rules: rulesKind, curators: k.list(k.address, MAX_CURATORS) }),
  weight: () => CREATE_WEIGHT,
  async execute(context, args) {
    const problem = metadataProblem(args) ?? (await rulesProblem(context, args.rules))
    if (problem !== undefined) return problem
    if (new Set(args.curators.map((c) => Buffer.from(c).toString('hex'))).size !== args.curators.length) return DatanetsError.DuplicateCurator
    const id = (await datanetCount.get(context.state)) + 1
    datanetCount.set(context.state, id)
    datanets.set(context.state, id, {
      id, owner: context.sender, name: args.name, description: args.description, tags: args.tags, licence: args.licence, visibility: args.visibility,
      rules: args.rules, curators: args.curators, contributions: 0, positions: 0, live: 0, liveBytes: 0, liveRows: 0, root: EMPTY_TREE_ROOT, versions: 0,
      dirty: false, createdHeight: context.block.height,
    })
    context.emit(DatanetCreated.create({ datanet: id, owner: context.sender, name: args.name }))
    return undefined
  },
})

export const updateMetadata = defineCall({
  index: 1,
  name: 'updateMetadata',
  args: metadataArgs,
  weight: () => UPDATE_METADATA_WEIGHT,
  async execute(context, args) {
    const datanet = await ownedDatanet(context, args.datanet)
    if (!isDatanet(datanet)) return datanet
    const problem = metadataProblem(args)
    if (problem !== undefined) return problem
    datanets.set(context.state, datanet.id, { ...datanet, name: args.name, description: args.description, tags: args.tags, licence: args.licence, visibility: args.visibility })
    context.emit(MetadataUpdated.create({ datanet: datanet.id }))
    return undefined
  },
})

export const addCurator = defineCall({
  index: 2,
  name: 'addCurator',
  args: k.struct({ datanet: k.uint, curator: k.address }),
  weight: () => CURATOR_WEIGHT,
  async execute(context, { datanet: id, curator }) {
    const datanet = await ownedDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    if (datanet.curators.some((c) => sameAddress(c, curator))) return DatanetsError.DuplicateCurator
    if (datanet.curators.length >= MAX_CURATORS) return DatanetsError.TooManyCurators
    datanets.set(context.state, id, { ...datanet, curators: [...datanet.curators, curator] })
    context.emit(CuratorAdded.create({ datanet: id, curator }))
    return undefined
  },
})

export const removeCurator = defineCall({
  index: 3,
  name: 'removeCurator',
  args: k.struct({ datanet: k.uint, curator: k.address }),
  weight: () => CURATOR_WEIGHT,
  async execute(context, { datanet: id, curator }) {
    const datanet = await ownedDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    if (!datanet.curators.some((c) => sameAddress(c, curator))) return DatanetsError.UnknownCurator
    datanets.set(context.state, id, { ...datanet, curators: datanet.curators.filter((c) => !sameAddress(c, curator)) })
    context.emit(CuratorRemoved.create({ datanet: id, curator }))
    return undefined
  },
})

export const transferOwnership = defineCall({
  index: 4,
  name: 'transferOwnership',
  args: k.struct({ datanet: k.uint, newOwner: k.address }),
  weight: () => TRANSFER_OWNERSHIP_WEIGHT,
  async execute(context, { datanet: id, newOwner }) {
    const datanet = await ownedDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    datanets.set(context.state, id, { ...datanet, owner: newOwner })
    context.emit(OwnershipTransferred.create({ datanet: id, from: context.sender, to: newOwner }))
    return undefined
  },
})

export const contribute = defineCall({
  index: 5,
  name: 'contribute',
  args: k.struct({ datanet: k.uint, cid: k.hash, size: k.uint, rows: k.uint, format: k.uint, metadata: k.string(MAX_METADATA_CHARS) }),
  weight: () => CONTRIBUTE_WEIGHT,
  async execute(context, { datanet: id, cid, size, rows, format, metadata }) {
    const { state, sender } = context
    const datanet = await loadDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    if (!datanet.rules.formats.includes(format)) return DatanetsError.FormatNotAccepted
    if (size < 1 || rows < 1) return DatanetsError.EmptyContribution
    if (size > datanet.rules.maxBytes) return DatanetsError.ContributionTooLarge
    if ((await contributionByCid.get(state, { datanet: id, cid })) !== undefined) return DatanetsError.DuplicateContribution
    const fee = datanet.rules.feePerByte * BigInt(size)
    const { deposit } = datanet.rules
    if (fee > 0n) {
      const paid = await transfer(context, sender, datanet.owner, fee)
      if (paid !== undefined) return paid
    }
    if (deposit > 0n) {
      const escrowed = await transfer(context, sender, DATANETS_ACCOUNT, deposit)
      if (escrowed !== undefined) return escrowed
    }
    const index = datanet.contributions
    contributions.set(state, { datanet: id, index }, {
      datanet: id, index, contributor: sender, cid, size, rows, format, metadata, deposit, fee, status: ContributionStatus.pending, attestedPower: 0,
      submittedHeight: context.block.height, decidedHeight: 0, position: undefined, withdrawnAfterVersion: undefined,
    })
    contributionByCid.set(state, { datanet: id, cid }, index)
    datanets.set(state, id, { ...datanet, contributions: index + 1 })
    context.emit(Contributed.create({ datanet: id, contribution: index, contributor: sender, cid, size, rows, format, deposit, fee }))
    return undefined
  },
})

const contributionArgs = k.struct({ datanet: k.uint, contribution: k.uint })

async function loadContribution(context: CallContext, datanet: number, index: number): Promise<Contribution | CallResult> {
  return (await contributions.get(context.state, { datanet, index })) ?? DatanetsError.UnknownContribution
}

const isContribution = (value: Contribution | CallResult): value is Contribution => value !== undefined && 'contributor' in value

/**
 * A validator of the active set says it fetched the contribution's bytes from the network and
 * checked them against the content id, size, format and row count. More than 2/3 of the set's
 * voting power makes the contribution available.
 */
export const attestAvailability = defineCall({
  index: 6,
  name: 'attestAvailability',
  args: contributionArgs,
  weight: () => ATTEST_WEIGHT,
  async execute(context, { datanet: id, contribution: index }) {
    const { state, sender } = context
    const datanet = await loadDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    const contribution = await loadContribution(context, id, index)
    if (!isContribution(contribution)) return contribution
    if (contribution.status === ContributionStatus.available) return DatanetsError.AlreadyAvailable
    if (contribution.status !== ContributionStatus.pending) return DatanetsError.AlreadyDecided
    // powers as the stake stands now: stake unbonded or slashed since the set was computed does not count
    const set = await countedSetAt(state, context.block.height)
    const member = set.find((m) => sameAddress(m.operator, sender))
    if (member === undefined || member.power === 0n) return DatanetsError.NotValidator
    const key = { datanet: id, index, validator: sender }
    if ((await attestations.get(state, key)) !== undefined) return DatanetsError.AlreadyAttested
    const power = Number(member.power)
    const totalPower = set.reduce((sum, m) => sum + m.power, 0n)
    attestations.set(state, key, power)
    const attestedPower = contribution.attestedPower + power
    const available = BigInt(attestedPower) * 3n > totalPower * 2n
    contributions.set(state, { datanet: id, index }, { ...contribution, attestedPower, status: available ? ContributionStatus.available : ContributionStatus.pending })
    context.emit(AvailabilityAttested.create({ datanet: id, contribution: index, validator: sender, power, attestedPower, totalPower: Number(totalPower) }))
    if (available) context.emit(DataAvailable.create({ datanet: id, contribution: index }))
    return undefined
  },
})

async function reviewable(context: CallContext, id: number, index: number): Promise<{ datanet: Datanet; contribution: Contribution } | CallResult> {
  const datanet = await loadDatanet(context, id)
  if (!isDatanet(datanet)) return datanet
  if (!isCurator(datanet, context.sender)) return DatanetsError.NotCurator
  const contribution = await loadContribution(context, id, index)
  if (!isContribution(contribution)) return contribution
  if (contribution.status !== ContributionStatus.pending && contribution.status !== ContributionStatus.available) return DatanetsError.AlreadyDecided
  return { datanet, contribution }
}

/** A curator accepts an available contribution: it takes the next tree position. Its deposit stays in escrow. */
export const accept = defineCall({
  index: 7,
  name: 'accept',
  args: contributionArgs,
  weight: () => ACCEPT_WEIGHT,
  async execute(context, { datanet: id, contribution: index }) {
    const review = await reviewable(context, id, index)
    if (review === undefined || !('datanet' in review)) return review
    const { datanet, contribution } = review
    if (contribution.status !== ContributionStatus.available) return DatanetsError.DataUnavailable
    const position = datanet.positions
    if (position >= MAX_TREE_LEAVES) return DatanetsError.DatanetFull
    const root = await setTreeLeaf(context.state, id, position, contributionLeaf(contribution))
    contributions.set(context.state, { datanet: id, index }, { ...contribution, status: ContributionStatus.accepted, decidedHeight: context.block.height, position })
    datanets.set(context.state, id, {
      ...datanet, positions: position + 1, live: datanet.live + 1, liveBytes: datanet.liveBytes + contribution.size, liveRows: datanet.liveRows + contribution.rows, root, dirty: true,
    })
    context.emit(ContributionAccepted.create({ datanet: id, contribution: index, curator: context.sender, position, root }))
    return undefined
  },
})

/** A curator rejects a pending or available contribution: rejectionForfeitBps of its deposit goes to the treasury. */
export const reject = defineCall({
  index: 8,
  name: 'reject',
  args: k.struct({ datanet: k.uint, contribution: k.uint, reason: k.string(MAX_REASON_CHARS) }),
  weight: () => REJECT_WEIGHT,
  async execute(context, { datanet: id, contribution: index, reason }) {
    const review = await reviewable(context, id, index)
    if (review === undefined || !('datanet' in review)) return review
    const { contribution } = review
    const forfeited = await rejectionForfeit(context, contribution.deposit)
    const refunded = contribution.deposit - forfeited
    if (forfeited > 0n) await payFromModuleAccount(context, DATANETS_ACCOUNT, TREASURY_ACCOUNT, forfeited, 'datanets')
    if (refunded > 0n) await payFromModuleAccount(context, DATANETS_ACCOUNT, contribution.contributor, refunded, 'datanets')
    contributions.set(context.state, { datanet: id, index }, { ...contribution, status: ContributionStatus.rejected, decidedHeight: context.block.height })
    contributionByCid.delete(context.state, { datanet: id, cid: contribution.cid })
    context.emit(ContributionRejected.create({ datanet: id, contribution: index, curator: context.sender, forfeited, refunded, reason }))
    return undefined
  },
})


/** The part of a deposit an undecided contribution forfeits to the treasury (rejected, or withdrawn before a decision). */
async function rejectionForfeit(context: CallContext, deposit: bigint): Promise<bigint> {
  const { rejectionForfeitBps } = await datanetsParams.get(context.state)
  return bpsOf(deposit, rejectionForfeitBps)
}

/**
 * The contributor takes a contribution back. An accepted one gets its deposit back and its tree
 * leaf emptied, so it is in no version published from now on (and earns no attribution). An
 * undecided one (pending or available) forfeits what a rejection would: otherwise a contributor
 * who sees a curator's `reject` coming orders its own `withdraw` first (a higher tip does it) and
 * turns the forfeit into nothing, so curation would never cost a spammer anything.
 */
export const withdraw = defineCall({
  index: 9,
  name: 'withdraw',
  args: contributionArgs,
  weight: () => WITHDRAW_WEIGHT,
  async execute(context, { datanet: id, contribution: index }) {
    const { state } = context
    const datanet = await loadDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    const contribution = await loadContribution(context, id, index)
    if (!isContribution(contribution)) return contribution
    if (!sameAddress(contribution.contributor, context.sender)) return DatanetsError.NotContributor
    if (contribution.status === ContributionStatus.rejected || contribution.status === ContributionStatus.withdrawn) return DatanetsError.NotWithdrawable
    const wasAccepted = contribution.status === ContributionStatus.accepted
    const forfeited = wasAccepted ? 0n : await rejectionForfeit(context, contribution.deposit)
    const refunded = contribution.deposit - forfeited
    if (forfeited > 0n) await payFromModuleAccount(context, DATANETS_ACCOUNT, TREASURY_ACCOUNT, forfeited, 'datanets')
    if (refunded > 0n) await payFromModuleAccount(context, DATANETS_ACCOUNT, contribution.contributor, refunded, 'datanets')
    if (wasAccepted && contribution.position !== undefined) {
      const root = await setTreeLeaf(state, id, contribution.position, undefined)
      datanets.set(state, id, {
        ...datanet, live: datanet.live - 1, liveBytes: datanet.liveBytes - contribution.size, liveRows: datanet.liveRows - contribution.rows, root, dirty: true,
      })
    }
    contributions.set(state, { datanet: id, index }, {
      ...contribution, status: ContributionStatus.withdrawn, decidedHeight: context.block.height, withdrawnAfterVersion: wasAccepted ? datanet.versions : undefined,
    })
    contributionByCid.delete(state, { datanet: id, cid: contribution.cid })
    context.emit(ContributionWithdrawn.create({ datanet: id, contribution: index, refunded, wasAccepted }))
    return undefined
  },
})

/** The owner publishes the current tree as the next version: constant cost, whatever the datanet's size. */
export const publishVersion = defineCall({
  index: 10,
  name: 'publishVersion',
  args: k.struct({ datanet: k.uint, note: k.string(MAX_REASON_CHARS) }),
  weight: () => PUBLISH_WEIGHT,
  async execute(context, { datanet: id, note }) {
    const datanet = await ownedDatanet(context, id)
    if (!isDatanet(datanet)) return datanet
    if (!datanet.dirty) return DatanetsError.NothingToPublish
    const version = datanet.versions + 1
    versions.set(context.state, { datanet: id, version }, {
      datanet: id, version, root: datanet.root, positions: datanet.positions, contributions: datanet.live, bytes: datanet.liveBytes, rows: datanet.liveRows,
      publishedHeight: context.block.height, publishedAt: context.block.timestamp, note,
    })
    datanets.set(context.state, id, { ...datanet, versions: version, dirty: false })
    context.emit(VersionPublished.create({ datanet: id, version, root: datanet.root, positions: datanet.positions, contributions: datanet.live }))
    return undefined
  },
})

export const calls = [create, updateMetadata, addCurator, removeCurator, transferOwnership, contribute, attestAvailability, accept, reject, withdraw, publishVersion]
