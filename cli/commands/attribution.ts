// `openledger attribution show|verify RECORD`, `attribution penalties --datanet N` and
// `openledger rewards show|claim`: Proof of Attribution's reads (openledger_getAttribution,
// getPenalties, getRewards, getPayoutProof) and the claim call.
import { parseArgs } from 'node:util'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { attributions } from '../../runtime/modules/attribution/index.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { decodeStateProof, verifyStateProof } from '../../runtime/state/proof.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import type { PenaltyView } from '../../node/rpc/contract.ts'
import { CliError, type Command } from '../io.ts'
import { parseAddress, parsePositiveInt, parseRpcUrl } from '../parse.ts'
import { common, sendCall, sendOptions } from '../send.ts'

const bytes = (hex: string, what: string): Uint8Array => {
  const value = fromHex(hex)
  if (value === undefined) throw new CliError('FAILED', `the node sent a malformed ${what}`)
  return value
}

export const ATTRIBUTION_USAGE = [
  'openledger attribution show RECORD [--rpc URL]                  the receipt, its re-check and the payouts of an inference record',
  'openledger attribution verify RECORD --address A [--rpc URL]    check what A was paid for RECORD against the finalized header\'s state root',
  'openledger attribution penalties --datanet N [--rpc URL]        a datanet owner\'s view: every contribution with a harmful score, its contributor, whether it is cut off and the deposit slashed',
].join('\n')

/** penalised contributions listed by `attribution penalties` at most */
const MAX_PENALTIES = 1_000

/** A datanet's penalised contributions (openledger_getPenalties pages), each with its contributor and deposit, and the thresholds in force. */
async function penaltiesOf(rpc: RpcClient, datanet: number): Promise<unknown> {
  if ((await rpc.call('openledger_getDatanet', [datanet])) === null) throw new CliError('NOT_FOUND', `no datanet ${datanet}`)
  const params = await rpc.call('openledger_getAttributionParams', [])
  const listed: PenaltyView[] = []
  for (let after: number | null = null; listed.length < MAX_PENALTIES;) {
    const page: PenaltyView[] = await rpc.call('openledger_getPenalties', [datanet, 100, after])
    listed.push(...page)
    if (page.length < 100) break
    after = page[page.length - 1]?.index ?? null
  }
  const contributions = []
  for (const entry of listed.slice(0, MAX_PENALTIES)) {
    const contribution = await rpc.call('openledger_getContribution', [datanet, entry.index])
    contributions.push({
      contribution: entry.index, contributor: contribution?.contributor ?? null, status: contribution?.status ?? null, score: entry.score, cutOff: entry.cutOff,
      ...(entry.cutOff ? { cutOffHeight: entry.cutOffHeight, slashed: entry.slashed } : {}), depositLeft: contribution?.deposit ?? null,
    })
  }
  return { datanet, penaltyThreshold: params.penaltyThreshold, penaltySlashBps: params.penaltySlashBps, cutOff: contributions.filter((c) => c.cutOff).length, contributions }
}

export const attributionCommand: Command = {
  usage: ATTRIBUTION_USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv
    const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { rpc: { type: 'string' }, address: { type: 'string' }, datanet: { type: 'string' } } })
    const rpc = new RpcClient(parseRpcUrl(values.rpc))
    if (sub === 'penalties') {
      if (values.datanet === undefined) throw new CliError('USAGE', 'attribution penalties needs --datanet N')
      io.out(JSON.stringify(await penaltiesOf(rpc, parsePositiveInt(values.datanet, '--datanet')), null, 2))
      return 0
    }
    if (positionals[0] === undefined) throw new CliError('USAGE', `attribution ${sub ?? ''} needs the inference RECORD id`)
    const record = parsePositiveInt(positionals[0], 'RECORD')
    switch (sub) {
      case 'show': {
        const entry = await rpc.call('openledger_getAttribution', [record])
        if (entry === null) throw new CliError('NOT_FOUND', `record ${record} has no attribution (unknown, or not yet picked up)`)
        io.out(JSON.stringify(entry, null, 2))
        return 0
      }
      case 'verify': {
        if (values.address === undefined) throw new CliError('USAGE', 'attribution verify needs --address A')
        const address = parseAddress(values.address, '--address')
        const proof = await rpc.call('openledger_getPayoutProof', [record, toHex(address)])
        // the state root from the header itself (by its hash), not from the proof's answer
        const header = await rpc.call('chain_getHeader', [proof.at])
        if (header === null) throw new CliError('FAILED', `the node does not know the block ${proof.at} it proved against`)
        const key = bytes(proof.key, 'key')
        const value = bytes(proof.value, 'value')
        const valid = Buffer.from(key).equals(Buffer.from(attributions.key(record))) && verifyStateProof(bytes(header.stateRoot, 'state root'), key, value, decodeStateProof(bytes(proof.proof, 'proof')))
        if (!valid) throw new CliError('FAILED', `the proof does not verify against block ${header.number}'s state root`)
        const entry = attributions.decodeValue(value)
        const paid = entry.payouts.filter((p) => sameAddress(p.contributor, address)).reduce((sum, p) => sum + p.amount, 0n)
        if (paid.toString() !== proof.amount) throw new CliError('FAILED', `the node says ${proof.amount} but the proven attribution pays ${paid}`)
        io.out(`record ${record} paid ${toHex(address)} ${paid} base units (verified against block ${header.number}, state root ${header.stateRoot})`)
        return 0
      }
      default:
        throw new CliError('USAGE', 'attribution needs one of: show, verify, penalties')
    }
  },
}

export const REWARDS_USAGE = [
  'openledger rewards show --address A [--rpc URL]     accrued (claimable) and claimed rewards, and every record that credited A (its contributions, scores, OPEN)',
  'openledger rewards claim --from NAME [common options]',
].join('\n')

/** payouts listed by `rewards show` at most (pages of the per-contributor index) */
const MAX_SHOWN = 1_000

export const rewardsCommand: Command = {
  usage: REWARDS_USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv
    const { values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options: { ...common, address: { type: 'string' } } })
    switch (sub) {
      case 'show': {
        if (values.address === undefined) throw new CliError('USAGE', 'rewards show needs --address A')
        const address = toHex(parseAddress(values.address, '--address'))
        const rpc = new RpcClient(parseRpcUrl(values.rpc))
        const rewards = await rpc.call('openledger_getRewards', [address])
        const credits: Array<{ record: number; datanet: number; contribution: number; score: number; amount: string }> = []
        for (let after: number | null = null; credits.length < MAX_SHOWN;) {
          const page: Array<{ record: number; contributions: Array<{ datanet: number; index: number; score: number; amount: string }> }> = await rpc.call('openledger_listRewards', [address, 100, after])
          for (const entry of page) credits.push(...entry.contributions.map((c) => ({ record: entry.record, datanet: c.datanet, contribution: c.index, score: c.score, amount: c.amount })))
          if (page.length < 100) break
          after = page[page.length - 1]?.record ?? null
        }
        io.out(JSON.stringify({ address, accrued: rewards.accrued, claimed: rewards.claimed, credits: credits.slice(0, MAX_SHOWN) }, null, 2))
        return 0
      }
      case 'claim':
        return sendCall(io, sendOptions(values), 'attribution', 'claim', {})
      default:
        throw new CliError('USAGE', 'rewards needs one of: show, claim')
    }
  },
}
