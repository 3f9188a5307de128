import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const FeePaid = defineEvent(
  ModuleIndex.fees,
  0,
  'FeePaid',
  k.struct({ account: k.address, gasUsed: k.uint, baseFee: k.amount, burned: k.amount, tip: k.amount }),
)

export const events = [FeePaid]
