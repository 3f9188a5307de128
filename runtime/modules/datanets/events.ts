import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

const M = ModuleIndex.datanets
const datanet = k.uint
const contribution = k.uint

export const DatanetCreated = defineEvent(M, 0, 'DatanetCreated', k.struct({ datanet, owner: k.address, name: k.string(64) }))
export const MetadataUpdated = defineEvent(M, 1, 'MetadataUpdated', k.struct({ datanet }))
export const CuratorAdded = defineEvent(M, 2, 'CuratorAdded', k.struct({ datanet, curator: k.address }))
export const CuratorRemoved = defineEvent(M, 3, 'CuratorRemoved', k.struct({ datanet, curator: k.address }))
export const OwnershipTransferred = defineEvent(M, 4, 'OwnershipTransferred', k.struct({ datanet, from: k.address, to: k.address }))
/** a contribution was submitted: its bytes must now be shown available by the validators */
export const Contributed = defineEvent(M, 5, 'Contributed', k.struct({
  datanet, contribution, contributor: k.address, cid: k.hash, size: k.uint, rows: k.uint, format: k.uint, deposit: k.amount, fee: k.amount,
}))
export const AvailabilityAttested = defineEvent(M, 6, 'AvailabilityAttested', k.struct({ datanet, contribution, validator: k.address, power: k.uint, attestedPower: k.uint, totalPower: k.uint }))
/** more than 2/3 of the voting power attested: the contribution may now be accepted */
export const DataAvailable = defineEvent(M, 7, 'DataAvailable', k.struct({ datanet, contribution }))
export const ContributionAccepted = defineEvent(M, 8, 'ContributionAccepted', k.struct({ datanet, contribution, curator: k.address, position: k.uint, root: k.hash }))
export const ContributionRejected = defineEvent(M, 9, 'ContributionRejected', k.struct({ datanet, contribution, curator: k.address, forfeited: k.amount, refunded: k.amount, reason: k.string(256) }))
export const ContributionWithdrawn = defineEvent(M, 10, 'ContributionWithdrawn', k.struct({ datanet, contribution, refunded: k.amount, wasAccepted: k.bool }))
export const VersionPublished = defineEvent(M, 11, 'VersionPublished', k.struct({ datanet, version: k.uint, root: k.hash, positions: k.uint, contributions: k.uint }))

export const events = [
  DatanetCreated, MetadataUpdated, CuratorAdded, CuratorRemoved, OwnershipTransferred, Contributed, AvailabilityAttested, DataAvailable,
  ContributionAccepted, ContributionRejected, ContributionWithdrawn, VersionPublished,
]
