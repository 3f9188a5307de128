import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

/** One transaction's fee (in its receipt): taken from `account` when the transaction is applied. */
export const FeePaid = defineEvent(
  ModuleIndex.fees,
  0,
  'FeePaid',
  k.struct({ account: k.address, gasUsed: k.uint, baseFee: k.amount, burned: k.amount, tip: k.amount }),
)

/**
 * A block's fees credited at its end (a block event): the treasury's share of the base fees, the
 * author's tips, and the base-fee share burned (the total issuance falls by `burned`).
 */
export const FeesSettled = defineEvent(
  ModuleIndex.fees,
  1,
  'FeesSettled',
  k.struct({ author: k.address, transactions: k.uint, treasury: k.amount, tips: k.amount, burned: k.amount }),
)

export const events = [FeePaid, FeesSettled]
