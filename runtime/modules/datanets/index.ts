// datanets: datasets as on-chain assets. A datanet has an owner, metadata, contribution rules and
// curators; contributors submit content ids of blobs (the bytes live in the nodes' blob stores and
// travel over p2p) with a deposit; validators attest that the bytes are retrievable; curators
// accept or reject; accepted contributions are leaves of an incremental Merkle tree whose root
// the owner publishes as a version, against which anyone can check inclusion (versionTree.ts).
import { datanetsParams } from './state.ts'
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { DatanetsError } from './errors.ts'
import { events } from './events.ts'
import { applyDatanetsGenesis, type DatanetsGenesis } from './genesis.ts'

export const datanetsModule: RuntimeModule = {
  index: ModuleIndex.datanets,
  name: 'datanets',
  calls,
  events,
  errors: DatanetsError.list,
  genesis: { apply: (state, config: DatanetsGenesis | undefined) => (config === undefined ? undefined : applyDatanetsGenesis(state, config)) },
  params: datanetsParams,
}

export { Format, FormatError, checkRows, formatForFileName, formatName, parseRows, type FormatName, type Row } from './formats.ts'
export {
  contributions, ContributionStatus, CONTRIBUTION_STATUS_NAMES, datanetCount, datanets, DATANETS_ACCOUNT, DEFAULT_DATANETS_PARAMS, versions,
  type Contribution, type Datanet, type DatanetVersion,
} from './state.ts'
export { buildTreeLevels, contributionLeaf, inclusionProof, treeRoot, verifyInclusionProof, TREE_DEPTH } from './versionTree.ts'
export { inVersion, versionLeaves, versionTree, type VersionTree } from './proofs.ts'
export { attestAvailability } from './calls.ts'
export { Contributed, ContributionRejected, ContributionWithdrawn } from './events.ts'
export { datanetsGenesisKind } from './genesis.ts'
export { attestations, contributionKey, contributionKind, datanetKind, datanetsParams, versionKind } from './state.ts'
export { type LeafFields } from './versionTree.ts'
