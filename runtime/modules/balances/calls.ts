import * as k from '../../codec/schema.ts'
import { defineCall } from '../../module.ts'
import { transfer as transferFunds } from './ledger.ts'
import { accounts } from '../system/index.ts'
import { vesting } from './state.ts'

/** gas: two account reads and writes */
export const TRANSFER_WEIGHT = 500

export const transfer = defineCall({
  index: 0,
  name: 'transfer',
  args: k.struct({ to: k.address, amount: k.amount }),
  weight: () => TRANSFER_WEIGHT,
  execute: (context, { to, amount }) => transferFunds(context, context.sender, to, amount),
  touches: ({ to }, sender) => [vesting.key(sender), accounts.key(to)],
})

export const calls = [transfer]
