import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const Transferred = defineEvent(ModuleIndex.balances, 0, 'Transferred', k.struct({ from: k.address, to: k.address, amount: k.amount }))
export const Burned = defineEvent(ModuleIndex.balances, 1, 'Burned', k.struct({ account: k.address, amount: k.amount }))

export const events = [Transferred, Burned]
