import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

/** An enacted governance proposal paid `amount` out of the treasury to `recipient`. */
export const Spent = defineEvent(ModuleIndex.treasury, 0, 'Spent', k.struct({ proposal: k.uint, recipient: k.address, amount: k.amount }))

export const events = [Spent]
