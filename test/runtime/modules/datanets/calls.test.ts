import t from 'tap'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { TREASURY_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import { ContributionStatus, DATANETS_ACCOUNT } from '../../../../runtime/modules/datanets/state.ts'
import { contributionLeaf, EMPTY_TREE_ROOT, verifyInclusionProof } from '../../../../runtime/modules/datanets/versionTree.ts'
import { versionLeaves, versionTree } from '../../../../runtime/modules/datanets/proofs.ts'
import { addressOf, DatanetsHarness, eventNames, invariantProblems, OPEN } from './harness.ts'

const DEPOSIT = 10n * OPEN
const FEE_PER_BYTE = 1_000n

export const createArgs = (overrides: Record<string, unknown> = {}) => ({
  name: 'Spam corpus',
  description: 'labelled e-mails',
  tags: ['email', 'spam'],
  licence: 'Apache-2.0',
  visibility: 0,
  rules: { deposit: DEPOSIT, feePerByte: FEE_PER_BYTE, formats: [Format.labelled, Format.documents], maxBytes: 1_000_000 },
  curators: [addressOf('dave')],
  ...overrides,
})

const cidOf = (text: string) => sha256(utf8(text))
const contributeArgs = (text: string, overrides: Record<string, unknown> = {}) => ({ datanet: 1, cid: cidOf(text), size: 100, rows: 2, format: Format.labelled, metadata: '{"source":"test"}', ...overrides })

async function withDatanet() {
  const h = await DatanetsHarness.create()
  const created = await h.call('ferdie', 'create', createArgs())
  if (created.error !== undefined) throw new Error(created.error.code)
  return h
}

async function makeAvailable(h: DatanetsHarness, index: number) {
  for (const validator of ['alice', 'bob'] as const) {
    const attested = await h.call(validator, 'attestAvailability', { datanet: 1, contribution: index })
    if (attested.error !== undefined) throw new Error(attested.error.code)
  }
}

t.test('create, metadata, curators and ownership', async (t) => {
  const h = await withDatanet()
  const datanet = await h.datanet(1)
  t.equal(datanet?.name, 'Spam corpus')
  t.same(datanet?.root, EMPTY_TREE_ROOT)
  t.equal((await h.call('eve', 'updateMetadata', { datanet: 1, name: 'x', description: '', tags: [], licence: '', visibility: 0 })).error?.code, 'datanets.NotOwner')
  t.equal((await h.call('ferdie', 'updateMetadata', { datanet: 1, name: '  ', description: '', tags: [], licence: '', visibility: 0 })).error?.code, 'datanets.InvalidName')
  t.equal((await h.call('ferdie', 'updateMetadata', { datanet: 1, name: 'x', description: '', tags: ['a', 'a'], licence: '', visibility: 0 })).error?.code, 'datanets.DuplicateTag')
  t.equal((await h.call('ferdie', 'updateMetadata', { datanet: 1, name: 'x', description: '', tags: [], licence: '', visibility: 2 })).error?.code, 'datanets.InvalidVisibility')
  const updated = await h.call('ferdie', 'updateMetadata', { datanet: 1, name: 'Spam v2', description: 'd', tags: ['t'], licence: 'CC-BY-4.0', visibility: 1 })
  t.same(eventNames(updated.events), ['datanets.MetadataUpdated'])
  t.equal((await h.datanet(1))?.licence, 'CC-BY-4.0')
  t.equal((await h.call('ferdie', 'addCurator', { datanet: 1, curator: addressOf('dave') })).error?.code, 'datanets.DuplicateCurator')
  t.same(eventNames((await h.call('ferdie', 'addCurator', { datanet: 1, curator: addressOf('eve') })).events), ['datanets.CuratorAdded'])
  t.same(eventNames((await h.call('ferdie', 'removeCurator', { datanet: 1, curator: addressOf('dave') })).events), ['datanets.CuratorRemoved'])
  t.equal((await h.call('ferdie', 'removeCurator', { datanet: 1, curator: addressOf('dave') })).error?.code, 'datanets.UnknownCurator')
  t.same(eventNames((await h.call('ferdie', 'transferOwnership', { datanet: 1, newOwner: addressOf('charlie') })).events), ['datanets.OwnershipTransferred'])
  t.equal((await h.call('ferdie', 'addCurator', { datanet: 1, curator: addressOf('bob') })).error?.code, 'datanets.NotOwner')
  t.same((await h.datanet(1))?.owner, addressOf('charlie'))
  t.equal((await h.call('ferdie', 'create', createArgs({ rules: { deposit: 0n, feePerByte: 0n, formats: [], maxBytes: 1 } }))).error?.code, 'datanets.InvalidFormats')
  t.equal((await h.call('ferdie', 'create', createArgs({ rules: { deposit: 0n, feePerByte: 0n, formats: [9], maxBytes: 1 } }))).error?.code, 'datanets.InvalidFormats')
  t.equal((await h.call('ferdie', 'create', createArgs({ rules: { deposit: 0n, feePerByte: 0n, formats: [0], maxBytes: 0 } }))).error?.code, 'datanets.InvalidMaxBytes')
  t.equal((await h.call('ferdie', 'create', createArgs({ curators: [addressOf('bob'), addressOf('bob')] }))).error?.code, 'datanets.DuplicateCurator')
  t.same(await invariantProblems(h), [])
})

t.test('contribute, attest availability, accept, publish, prove inclusion', async (t) => {
  const h = await withDatanet()
  const eveBefore = await h.balance('eve')
  const ferdieBefore = await h.balance('ferdie')
  const contributed = await h.call('eve', 'contribute', contributeArgs('first'))
  t.equal(contributed.error, undefined)
  t.ok(eventNames(contributed.events).includes('datanets.Contributed'))
  t.equal(await h.balance('eve'), eveBefore - DEPOSIT - 100n * FEE_PER_BYTE, 'deposit escrowed, fee paid')
  t.equal(await h.balance('ferdie'), ferdieBefore + 100n * FEE_PER_BYTE, 'the owner earns the per-byte fee')
  t.equal(await h.balance(DATANETS_ACCOUNT), DEPOSIT)

  // unavailable data cannot be accepted
  let before = h.snapshot()
  t.equal((await h.call('dave', 'accept', { datanet: 1, contribution: 0 })).error?.code, 'datanets.DataUnavailable')
  t.equal(h.snapshot(), before, 'a failed accept changes nothing')
  t.equal((await h.call('eve', 'attestAvailability', { datanet: 1, contribution: 0 })).error?.code, 'datanets.NotValidator')
  const first = await h.call('alice', 'attestAvailability', { datanet: 1, contribution: 0 })
  t.same(eventNames(first.events), ['datanets.AvailabilityAttested'], '10k of 24k power is not > 2/3')
  t.equal((await h.call('alice', 'attestAvailability', { datanet: 1, contribution: 0 })).error?.code, 'datanets.AlreadyAttested')
  t.equal((await h.call('dave', 'accept', { datanet: 1, contribution: 0 })).error?.code, 'datanets.DataUnavailable')
  const second = await h.call('bob', 'attestAvailability', { datanet: 1, contribution: 0 })
  t.same(eventNames(second.events), ['datanets.AvailabilityAttested', 'datanets.DataAvailable'], '18k of 24k is > 2/3')
  t.equal((await h.call('charlie', 'attestAvailability', { datanet: 1, contribution: 0 })).error?.code, 'datanets.AlreadyAvailable')

  before = h.snapshot()
  t.equal((await h.call('eve', 'accept', { datanet: 1, contribution: 0 })).error?.code, 'datanets.NotCurator')
  t.equal((await h.call('dave', 'accept', { datanet: 2, contribution: 0 })).error?.code, 'datanets.UnknownDatanet')
  t.equal((await h.call('dave', 'accept', { datanet: 1, contribution: 7 })).error?.code, 'datanets.UnknownContribution')
  t.equal(h.snapshot(), before)
  const accepted = await h.call('dave', 'accept', { datanet: 1, contribution: 0 })
  t.same(eventNames(accepted.events), ['datanets.ContributionAccepted'])
  t.equal((await h.call('dave', 'accept', { datanet: 1, contribution: 0 })).error?.code, 'datanets.AlreadyDecided')
  t.equal((await h.contribution(1, 0))?.status, ContributionStatus.accepted)
  t.equal(await h.balance(DATANETS_ACCOUNT), DEPOSIT, 'an accepted contribution\'s deposit stays in escrow')

  t.equal((await h.call('dave', 'publishVersion', { datanet: 1, note: '' })).error?.code, 'datanets.NotOwner')
  const published = await h.call('ferdie', 'publishVersion', { datanet: 1, note: 'v1' })
  t.same(eventNames(published.events), ['datanets.VersionPublished'])
  t.equal((await h.call('ferdie', 'publishVersion', { datanet: 1, note: '' })).error?.code, 'datanets.NothingToPublish')
  const version = await h.version(1, 1)
  t.ok(version)
  if (version === undefined) return
  t.equal(version.contributions, 1)
  const contribution = await h.contribution(1, 0)
  if (contribution?.position === undefined) { t.fail('accepted contribution has a position'); return }
  const tree = versionTree(versionLeaves(h.allContributions(), version))
  t.same(tree.root, version.root, 'the root rebuilt off chain equals the incremental one')
  t.ok(verifyInclusionProof(version.root, contributionLeaf(contribution), contribution.position, tree.proof(contribution.position)), 'inclusion proof verifies')
  t.notOk(verifyInclusionProof(version.root, contributionLeaf({ ...contribution, rows: 3 }), contribution.position, tree.proof(contribution.position)), 'a changed record does not')
  t.notOk(verifyInclusionProof(version.root, contributionLeaf(contribution), contribution.position + 1, tree.proof(contribution.position)), 'nor another position')
  t.same(await invariantProblems(h), [])
})

t.test('bad contributions are refused and change nothing', async (t) => {
  const h = await withDatanet()
  await h.call('eve', 'contribute', contributeArgs('dup'))
  const before = h.snapshot()
  t.equal((await h.call('eve', 'contribute', contributeArgs('dup'))).error?.code, 'datanets.DuplicateContribution')
  t.equal((await h.call('bob', 'contribute', contributeArgs('dup'))).error?.code, 'datanets.DuplicateContribution', 'also from another contributor')
  t.equal((await h.call('eve', 'contribute', contributeArgs('x', { datanet: 9 }))).error?.code, 'datanets.UnknownDatanet')
  t.equal((await h.call('eve', 'contribute', contributeArgs('x', { format: Format.text }))).error?.code, 'datanets.FormatNotAccepted')
  t.equal((await h.call('eve', 'contribute', contributeArgs('x', { size: 1_000_001 }))).error?.code, 'datanets.ContributionTooLarge')
  t.equal((await h.call('eve', 'contribute', contributeArgs('x', { rows: 0 }))).error?.code, 'datanets.EmptyContribution')
  const poor = new Uint8Array(20).fill(7)
  t.equal((await h.call(poor, 'contribute', contributeArgs('x'))).error?.code, 'balances.InsufficientBalance')
  t.equal(h.snapshot(), before)
})

t.test('rejection forfeits part of the deposit to the treasury', async (t) => {
  const h = await withDatanet()
  await h.call('eve', 'contribute', contributeArgs('bad'))
  const eve = await h.balance('eve')
  const treasury = await h.balance(TREASURY_ACCOUNT)
  t.equal((await h.call('eve', 'reject', { datanet: 1, contribution: 0, reason: 'spam' })).error?.code, 'datanets.NotCurator')
  const rejected = await h.call('dave', 'reject', { datanet: 1, contribution: 0, reason: 'off-topic' })
  t.ok(eventNames(rejected.events).includes('datanets.ContributionRejected'))
  const forfeited = DEPOSIT * 2_000n / 10_000n
  t.equal(await h.balance(TREASURY_ACCOUNT), treasury + forfeited)
  t.equal(await h.balance('eve'), eve + DEPOSIT - forfeited)
  t.equal(await h.balance(DATANETS_ACCOUNT), 0n)
  t.equal((await h.call('eve', 'withdraw', { datanet: 1, contribution: 0 })).error?.code, 'datanets.NotWithdrawable')
  t.equal((await h.call('dave', 'accept', { datanet: 1, contribution: 0 })).error?.code, 'datanets.AlreadyDecided')
  t.equal((await h.call('alice', 'attestAvailability', { datanet: 1, contribution: 0 })).error?.code, 'datanets.AlreadyDecided')
  t.same(await invariantProblems(h), [])
})

t.test('withdrawal: refunded, out of later versions, earlier versions still provable', async (t) => {
  const h = await withDatanet()
  for (const [i, text] of ['a', 'b', 'c'].entries()) {
    await h.call('eve', 'contribute', contributeArgs(text))
    await makeAvailable(h, i)
    t.equal((await h.call('ferdie', 'accept', { datanet: 1, contribution: i })).error, undefined, 'the owner is a curator too')
  }
  await h.call('ferdie', 'publishVersion', { datanet: 1, note: '' })
  t.equal((await h.call('bob', 'withdraw', { datanet: 1, contribution: 1 })).error?.code, 'datanets.NotContributor')
  const eve = await h.balance('eve')
  const withdrawn = await h.call('eve', 'withdraw', { datanet: 1, contribution: 1 })
  t.ok(eventNames(withdrawn.events).includes('datanets.ContributionWithdrawn'))
  t.equal(await h.balance('eve'), eve + DEPOSIT)
  await h.call('ferdie', 'publishVersion', { datanet: 1, note: '' })
  const [v1, v2] = [await h.version(1, 1), await h.version(1, 2)]
  if (v1 === undefined || v2 === undefined) { t.fail('versions stored'); return }
  t.equal(v1.contributions, 3)
  t.equal(v2.contributions, 2)
  const c1 = await h.contribution(1, 1)
  if (c1?.position === undefined) { t.fail('position'); return }
  const all = h.allContributions()
  const tree1 = versionTree(versionLeaves(all, v1))
  const tree2 = versionTree(versionLeaves(all, v2))
  t.same(tree1.root, v1.root)
  t.same(tree2.root, v2.root)
  t.ok(verifyInclusionProof(v1.root, contributionLeaf(c1), c1.position, tree1.proof(c1.position)), 'still in version 1')
  t.notOk(verifyInclusionProof(v2.root, contributionLeaf(c1), c1.position, tree2.proof(c1.position)), 'not in version 2')
  // the same bytes may be contributed again after a withdrawal
  t.equal((await h.call('eve', 'contribute', contributeArgs('b'))).error, undefined)
  // a pending contribution can be withdrawn too (never in a version), at the rejection forfeit
  const beforePending = await h.balance('eve')
  const pending = await h.call('eve', 'withdraw', { datanet: 1, contribution: 3 })
  t.equal(pending.error, undefined)
  t.equal(await h.balance('eve'), beforePending + DEPOSIT - DEPOSIT * 2_000n / 10_000n)
  t.same(await invariantProblems(h), [])
})

t.test('issue 27 (4): withdrawing an undecided contribution ahead of its rejection forfeits as much as the rejection', async (t) => {
  // the reproduction: the contributor's withdraw ordered before the curator's reject in one block
  for (const available of [false, true]) {
    const h = await withDatanet()
    await h.call('eve', 'contribute', contributeArgs('spam'))
    if (available) await makeAvailable(h, 0)
    const eve = await h.balance('eve')
    const treasury = await h.balance(TREASURY_ACCOUNT)
    const withdrawn = await h.call('eve', 'withdraw', { datanet: 1, contribution: 0 })
    t.equal(withdrawn.error, undefined)
    t.equal((await h.call('dave', 'reject', { datanet: 1, contribution: 0, reason: 'spam' })).error?.code, 'datanets.AlreadyDecided')
    const forfeited = DEPOSIT * 2_000n / 10_000n
    t.equal(await h.balance('eve'), eve + DEPOSIT - forfeited, `${available ? 'available' : 'pending'}: the refund is the rejection's`)
    t.equal(await h.balance(TREASURY_ACCOUNT), treasury + forfeited, 'the forfeit goes to the treasury')
    t.same(await invariantProblems(h), [])
  }
})
