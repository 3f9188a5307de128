// openledger_* methods for governance and the treasury (reads of the head state):
//
//   getProposal(id)                          a proposal: content, status, deadlines, deposits,
//                                            the final tally, and while the vote is open the
//                                            tally as it would be taken now (`currentTally`)
//   listProposals(start?, count?, status?)   newest first, paged by id
//   getVotes(proposal, start?, count?)       the votes cast (each voter's latest), paged
//   getParams(module?)                       every governable parameter: declaration and value
//   getTreasury()                            the treasury account and its balance, the scheduled upgrade
import { toJsonOf } from '../../runtime/codec/schema.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import {
  computeTally, depositors, deposits, GOVERNANCE_ACCOUNT, PROPOSAL_KIND_NAMES, PROPOSAL_STATUS_NAMES, proposalContentKind, proposalCount, proposals, ProposalStatus,
  readTallyInput, scheduledUpgrade, VOTE_OPTION_NAMES, voters, votes, type Proposal, type Tally,
} from '../../runtime/modules/governance/index.ts'
import { TREASURY_ACCOUNT, treasuryBalance } from '../../runtime/modules/treasury/index.ts'
import { balanceOf } from '../../runtime/modules/balances/index.ts'
import { paramValueToJson, type ModuleParams } from '../../runtime/params.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import type { ModuleParamsView, ProposalView, TallyView, VotesView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'
import { checkAborted, listByIds, MAX_LIST } from './pagination.ts'

export type GovernanceApiErrorCode = 'UNKNOWN_MODULE' | 'UNKNOWN_STATUS'
export class GovernanceApiError extends OpenLedgerError<GovernanceApiErrorCode> {}

export function tallyToJson(tally: Tally): TallyView {
  return { yes: tally.yes.toString(), no: tally.no.toString(), abstain: tally.abstain.toString(), veto: tally.veto.toString(), totalPower: tally.totalPower.toString() }
}

export function proposalToJson(proposal: Proposal): ProposalView {
  const content = toJsonOf(proposalContentKind, proposal.content)
  return {
    id: proposal.id,
    proposer: toHex(proposal.proposer),
    kind: PROPOSAL_KIND_NAMES[proposal.content.kind] ?? proposal.content.kind,
    status: PROPOSAL_STATUS_NAMES[proposal.status] ?? proposal.status,
    content: { ...content, kind: PROPOSAL_KIND_NAMES[proposal.content.kind] ?? proposal.content.kind },
    submitHeight: proposal.submitHeight,
    depositEnd: proposal.depositEnd,
    votingStart: proposal.status === ProposalStatus.depositPeriod ? null : proposal.votingStart,
    votingEnd: proposal.status === ProposalStatus.depositPeriod ? null : proposal.votingEnd,
    enactHeight: proposal.enactHeight === 0 ? null : proposal.enactHeight,
    totalDeposit: proposal.totalDeposit.toString(),
    tally: proposal.status <= ProposalStatus.votingPeriod ? null : tallyToJson(proposal.tally),
  }
}

export function moduleParamsToJson(params: ModuleParams<object>, current: object): ModuleParamsView {
  const values = current as Record<string, number | bigint | boolean>
  return {
    module: params.module,
    params: params.declarations.map((d) => ({
      name: d.name,
      type: d.type,
      min: d.min.toString(),
      max: d.max.toString(),
      default: paramValueToJson(d.default),
      value: paramValueToJson(values[d.name] ?? d.default),
      description: d.description,
    })),
  }
}

export function governanceMethods({ chain }: ApiComponents): RpcMethod[] {
  const state = (): StateReader => chain.state
  const id = param.uint({ max: Number.MAX_SAFE_INTEGER })
  const start = param.optional(id).named('start')
  const count = param.optional(param.uint({ max: MAX_LIST })).named('count')
  return [
    defineMethod({
      name: 'openledger_getProposal',
      params: [id.named('proposal')],
      async handler([proposalId], { signal }) {
        const view = state()
        const proposal = await proposals.get(view, proposalId)
        if (proposal === undefined) return null
        const json = proposalToJson(proposal)
        const list = (await depositors.get(view, proposalId)) ?? []
        const depositsJson: Array<{ depositor: string; amount: string }> = []
        for (const depositor of list) depositsJson.push({ depositor: toHex(depositor), amount: ((await deposits.get(view, { proposal: proposalId, account: depositor })) ?? 0n).toString() })
        let currentTally: TallyView | null = null
        if (proposal.status === ProposalStatus.votingPeriod) {
          checkAborted(signal)
          // bounded by the voter list (MAX_VOTERS x MAX_VOTE_VALIDATORS reads), as the tally itself
          const input = await readTallyInput(view, proposalId, chain.state.version)
          currentTally = tallyToJson(computeTally(input.validators, input.votes))
        }
        return { ...json, deposits: depositsJson, currentTally }
      },
    }),
    defineMethod({
      name: 'openledger_listProposals',
      params: [start, count, param.optional(param.string({ maxLength: 32 })).named('status')],
      async handler([from, n, status], { signal }) {
        const wanted = status === undefined ? undefined : (PROPOSAL_STATUS_NAMES as readonly string[]).indexOf(status)
        if (wanted === -1) throw new GovernanceApiError('UNKNOWN_STATUS', `status must be one of ${PROPOSAL_STATUS_NAMES.join(', ')}`)
        const view = state()
        return listByIds({ first: 1, last: await proposalCount.get(view), start: from, count: n, order: 'descending', signal }, async (i) => {
          const proposal = await proposals.get(view, i)
          if (proposal === undefined || (wanted !== undefined && proposal.status !== wanted)) return undefined
          return proposalToJson(proposal)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getVotes',
      params: [id.named('proposal'), start, count],
      async handler([proposalId, from, n], { signal }) {
        const view = state()
        const list = (await voters.get(view, proposalId)) ?? []
        const limit = Math.min(n ?? MAX_LIST, MAX_LIST)
        const out: VotesView['votes'] = []
        for (let i = from ?? 0; i < list.length && out.length < limit; i++) {
          checkAborted(signal)
          const voter = list[i] as Uint8Array
          const vote = await votes.get(view, { proposal: proposalId, account: voter })
          if (vote === undefined) continue
          out.push({ index: i, voter: toHex(voter), option: VOTE_OPTION_NAMES[vote.option] ?? vote.option, validators: vote.validators.map(toHex), height: vote.height })
        }
        return { proposal: proposalId, total: list.length, votes: out }
      },
    }),
    defineMethod({
      name: 'openledger_getParams',
      params: [param.optional(param.string({ maxLength: 32 })).named('module')],
      async handler([moduleName]) {
        const view = state()
        const registry = chain.runtime.params
        const selected = moduleName === undefined ? registry.modules : [registry.module(moduleName)]
        if (selected.some((m) => m === undefined)) {
          throw new GovernanceApiError('UNKNOWN_MODULE', `no module ${moduleName ?? ''} declares parameters; modules: ${registry.modules.map((m) => m.module).join(', ')}`)
        }
        const out: ModuleParamsView[] = []
        for (const params of selected as ModuleParams<object>[]) out.push(moduleParamsToJson(params, await params.storage.get(view)))
        return { height: chain.state.version, modules: out }
      },
    }),
    defineMethod({
      name: 'openledger_getTreasury',
      params: [],
      async handler() {
        const view = state()
        const upgrade = await scheduledUpgrade.get(view)
        return {
          height: chain.state.version,
          account: toHex(TREASURY_ACCOUNT),
          balance: (await treasuryBalance(view)).toString(),
          governanceEscrow: { account: toHex(GOVERNANCE_ACCOUNT), balance: (await balanceOf(view, GOVERNANCE_ACCOUNT)).toString() },
          scheduledUpgrade: upgrade === undefined ? null : { proposal: upgrade.proposal, height: upgrade.height, version: upgrade.version },
        }
      },
    }),
  ]
}
