// Governance on a dev chain, as a user drives it: proposals, deposits and votes through the
// `openledger gov` CLI, everything read back over JSON-RPC. A parameter change takes effect at its
// enactment height (shown by the fee split of the next blocks' settlement), an unvoted proposal
// fails quorum and a vetoed one is refused, both burning their deposits, a treasury spend reaches
// its recipient, and an upgrade height stops the old binary cleanly (exit 78, state intact) while
// the "new" one (--test-software-version) goes on from the same home with the same state root.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { chainSpecToJson } from '../../genesis/spec.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { found, runCli, startDevNode, stopNode, tempHome, waitFor, type RunningNode } from './harness.ts'
import type { ProposalView } from '../../node/rpc/contract.ts'

/** blocks (500 ms): room for five CLI votes to be included on a loaded machine */
const VOTING = 60
const TIMELOCK = 5
/** blocks between the earliest possible enactment of the upgrade and its height: room for the proposals' inclusion and the checks that need the chain running after the enactments */
const UPGRADE_MARGIN = 60
const RECIPIENT = '0x' + 'ab'.repeat(20)

async function head(node: RunningNode): Promise<number> {
  return found(await node.rpc.call('chain_getHeader'), 'the head').number
}

/** The fee settlement of block `n` (a block with transactions), as its burn share in basis points. */
async function burnShareAt(node: RunningNode, n: number): Promise<number | undefined> {
  const block = await node.rpc.call('openledger_getBlockEvents', [n])
  const settled = block?.events.find((e) => e.module === 'fees' && e.event === 'FeesSettled')
  const data = settled?.data
  if (data === undefined || data === null) return undefined
  const burned = BigInt(data['burned'] as string)
  const treasury = BigInt(data['treasury'] as string)
  return Number((burned * 10_000n) / (burned + treasury))
}

t.test('proposals pass, fail quorum, get vetoed, spend and upgrade on a dev chain', { timeout: 600_000 }, async (t) => {
  const home = await tempHome('openledger-gov-')
  t.teardown(home.remove)
  const spec = devChainSpec({
    governanceParams: { minDeposit: 10n * ONE_OPEN, depositPeriod: 200, votingPeriod: VOTING, quorumBps: 3_340, thresholdBps: 5_000, vetoBps: 3_340, timelockBlocks: TIMELOCK },
  })
  const specPath = join(home.path, 'spec.json')
  await writeFile(specPath, chainSpecToJson(spec))
  let node = await startDevNode(join(home.path, 'node'), ['--spec', specPath, '--block-time', '500'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const rpc = ['--rpc', node.rpcUrl]
  const cli = async (args: string[]) => {
    const result = await runCli([...args, ...rpc])
    if (result.code !== 0) throw new Error(`openledger ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`)
    return result.stdout
  }

  // the treasury gets something to spend besides its fee share
  const treasury = (await node.rpc.call('openledger_getTreasury')).account
  await cli(['tx', 'transfer', '--from', 'ferdie', '--to', treasury, '--amount', '5'])

  // refused at once, nothing but the fee taken: an out-of-bounds value never reaches the chain
  const refused = await runCli(['gov', 'propose', '--from', 'dave', '--title', 'bad', '--deposit', '10', '--param', 'fees.burnShareBps=10001', ...rpc])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /OUT_OF_BOUNDS/)

  const upgradeHeight = (await head(node)) + VOTING + TIMELOCK + UPGRADE_MARGIN
  // five proposers at once (one transaction each, so no nonce races)
  const submitted = await Promise.all([
    cli(['gov', 'propose', '--from', 'dave', '--title', 'burn less', '--deposit', '10', '--param', 'fees.burnShareBps=1000', '--json']),
    cli(['gov', 'propose', '--from', 'eve', '--title', 'nobody cares', '--deposit', '10', '--text', '--json']),
    cli(['gov', 'propose', '--from', 'charlie', '--title', 'a bad idea', '--deposit', '10', '--text', '--json']),
    cli(['gov', 'propose', '--from', 'bob', '--title', 'pay the auditor', '--deposit', '10', '--spend', '1', '--to', RECIPIENT, '--json']),
    cli(['gov', 'propose', '--from', 'ferdie', '--title', 'v0.2.0', '--deposit', '10', '--upgrade-height', String(upgradeHeight), '--upgrade-version', '0.2.0', '--json']),
  ])
  const proposalBlock = (JSON.parse(submitted[0] ?? '{}') as { blockNumber: number }).blockNumber
  t.equal(await burnShareAt(node, proposalBlock), 5_000, 'the genesis burn share before enactment')
  const listed = JSON.parse(await cli(['gov', 'list', '--json'])) as ProposalView[]
  t.same(listed.map((p) => p.status), ['votingPeriod', 'votingPeriod', 'votingPeriod', 'votingPeriod', 'votingPeriod'])
  const idOf = (title: string) => found(listed.find((p) => p.content.title === title), title).id
  const [change, unvoted, vetoed, spend, upgrade] = ['burn less', 'nobody cares', 'a bad idea', 'pay the auditor', 'v0.2.0'].map(idOf) as [number, number, number, number, number]

  // alice holds all the stake: yes on the change, the spend and the upgrade, yes then veto (a
  // vote change, the later nonce) on the bad idea, nothing on the unvoted one
  const alice = toHex(devAccount('alice').address)
  const nonce = await node.rpc.call('system_accountNextIndex', [alice])
  const votes: Array<[number, string]> = [[change, 'yes'], [vetoed, 'yes'], [spend, 'yes'], [upgrade, 'yes'], [vetoed, 'veto']]
  await Promise.all(votes.map(([id, option], i) => cli(['gov', 'vote', String(id), option, '--from', 'alice', '--nonce', String(nonce + i), '--no-wait'])))
  // included, not only pooled (the next index counts the pool): the last vote is the veto
  const votesOn = await waitFor(async () => {
    const seen = await node.rpc.call('openledger_getVotes', [vetoed])
    const counted = await Promise.all([change, spend, upgrade].map((id) => node.rpc.call('openledger_getVotes', [id])))
    return seen.votes[0]?.option === 'veto' && counted.every((v) => v.total === 1) ? seen : undefined
  }, 'the votes included', 120_000, 250)
  t.same(votesOn.votes.map((v) => [v.voter, v.option]), [[alice, 'veto']], 'the changed vote replaced the first')
  const live = JSON.parse(await cli(['gov', 'tally', String(change), '--json'])) as { final: boolean; tally: Record<string, string> }
  t.equal(live.tally['yes'], live.tally['totalPower'], 'the validator\'s whole stake counts')
  t.match(await cli(['gov', 'params', 'governance']), new RegExp(`governance\\.votingPeriod\\s+blocks\\s+${VOTING}`))

  const proposal = async (id: number) => found(await node.rpc.call('openledger_getProposal', [id]), `proposal ${id}`)
  const final = ['enacted', 'enactmentFailed', 'rejected', 'vetoed', 'failedQuorum', 'expired']
  // each proposal went in its own block, so each has its own deadlines: wait for all of them
  const decided = async () => (await Promise.all([change, unvoted, vetoed, spend, upgrade].map(proposal))).every((p) => final.includes(String(p.status)))
  await waitFor(async () => ((await decided()) ? true : undefined), 'the proposals decided', 300_000, 250)
  t.equal((await proposal(upgrade)).status, 'enacted', `the upgrade at ${upgradeHeight} (now ${await head(node)})`)
  const p1 = await proposal(change)
  t.equal(p1.status, 'enacted')
  t.equal(p1.enactHeight, (p1.votingEnd ?? 0) + TIMELOCK)
  t.equal((await proposal(unvoted)).status, 'failedQuorum')
  t.equal((await proposal(vetoed)).status, 'vetoed')
  t.equal((await proposal(spend)).status, 'enacted')
  const settled: unknown[] = []
  for (const id of [change, unvoted, vetoed, spend, upgrade]) {
    const end = (await proposal(id)).votingEnd ?? 0
    const block = found(await node.rpc.call('openledger_getBlockEvents', [end]), `block ${end}`)
    for (const e of block.events) if (e.event === 'DepositsSettled' && e.data?.['proposal'] === id) settled.push([id, e.data['outcome']])
  }
  t.same(settled, [[change, 0], [unvoted, 1], [vetoed, 1], [spend, 0], [upgrade, 0]], 'under-quorum and vetoed deposits burned (1), the others returned (0)')

  // the new burn share in the settlement of the first block with a transaction after enactment
  const after = JSON.parse(await cli(['tx', 'transfer', '--from', 'bob', '--to', RECIPIENT, '--amount', '1', '--json'])) as { blockNumber: number }
  t.ok(after.blockNumber > (p1.enactHeight ?? 0))
  t.equal(await burnShareAt(node, after.blockNumber), 1_000, 'the enacted burn share')
  t.match(await cli(['gov', 'params', 'fees']), /fees\.burnShareBps\s+bps\s+1000/)
  t.equal(await node.rpc.call('openledger_getBalance', [RECIPIENT]), String(2n * ONE_OPEN), 'the spend (1 OPEN) and the transfer (1 OPEN)')

  // the upgrade: the old binary stops with the parent of the upgrade height as its head
  const code = await waitFor(async () => (node.process.exitCode === null ? undefined : node.process.exitCode), 'the old binary to stop', 240_000, 250)
  t.equal(code, 78, 'EXIT_UPGRADE_REQUIRED')
  t.match(node.log(), new RegExp(`upgrade required: governance proposal ${upgrade} scheduled version 0\\.2\\.0`))
  // restarted as it is, it refuses at once, writing nothing
  const again = await runCli(['dev', '--home', join(home.path, 'node'), '--spec', specPath, '--rpc-port', '0', '--metrics-port', '0'])
  t.equal(again.code, 78)
  t.match(again.stderr, /UPGRADE_REQUIRED/)
  // the new version goes on from the same state
  node = await startDevNode(join(home.path, 'node'), ['--spec', specPath, '--block-time', '500', '--test-software-version', '0.2.0'])
  const parent = found(await node.rpc.call('chain_getHeader'), 'the head')
  t.equal(parent.number, upgradeHeight - 1, 'the old binary stopped just before the upgrade height')
  await waitFor(async () => ((await head(node)) > upgradeHeight + 2 ? true : undefined), 'blocks past the upgrade height', 60_000, 250)
  const hash = await node.rpc.call('chain_getBlockHash', [upgradeHeight - 1])
  t.equal((await node.rpc.call('chain_getHeader', [hash]))?.stateRoot, parent.stateRoot, 'the same state root')
  t.equal(await stopNode(node), 0)
})
