// Inclusion proofs for a published version, rebuilt from the contribution records alone (pure):
// a version covers tree positions [0, positions); the leaf at a position is the contribution
// accepted there, unless it was withdrawn before the version was published. So any node (or
// anyone holding the records) can rebuild any version's tree from the current state.
import { buildTreeLevels, contributionLeaf, inclusionProof } from './versionTree.ts'
import { ContributionStatus, type Contribution, type DatanetVersion } from './state.ts'

/** Whether a contribution's leaf is in a version's tree: the one membership rule (the RPC and the CLI use it too). */
export function inVersion(contribution: Pick<Contribution, 'status' | 'position' | 'withdrawnAfterVersion'>, version: Pick<DatanetVersion, 'version' | 'positions'>): boolean {
  const { position } = contribution
  if (position === undefined || position >= version.positions) return false
  if (contribution.status === ContributionStatus.accepted) return true
  return contribution.status === ContributionStatus.withdrawn && contribution.withdrawnAfterVersion !== undefined && contribution.withdrawnAfterVersion >= version.version
}

/** The version's leaves by position (undefined = empty), from every contribution of its datanet. */
export function versionLeaves(all: Iterable<Contribution>, version: Pick<DatanetVersion, 'version' | 'positions'>): Array<Uint8Array | undefined> {
  const leaves = new Array<Uint8Array | undefined>(version.positions).fill(undefined)
  for (const contribution of all) if (inVersion(contribution, version)) leaves[contribution.position as number] = contributionLeaf(contribution)
  return leaves
}

export interface VersionTree {
  readonly levels: Uint8Array[][]
  readonly root: Uint8Array
  proof(position: number): Uint8Array[]
}

export function versionTree(leaves: ReadonlyArray<Uint8Array | undefined>): VersionTree {
  const levels = buildTreeLevels(leaves)
  return { levels, root: levels.at(-1)?.[0] as Uint8Array, proof: (position) => inclusionProof(levels, position) }
}
