import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const Remarked = defineEvent(ModuleIndex.system, 0, 'Remarked', k.struct({ sender: k.address, remarkHash: k.hash }))

export const events = [Remarked]
