import * as k from '../../codec/schema.ts'
import { sha256 } from '../../crypto/hash.ts'
import { defineCall } from '../../module.ts'
import { Remarked } from './events.ts'

/** gas per byte of a remark */
const REMARK_GAS_PER_BYTE = 8

export const remark = defineCall({
  index: 0,
  name: 'remark',
  args: k.struct({ remark: k.bytes(16 * 1024) }),
  weight: ({ remark }) => 200 + remark.length * REMARK_GAS_PER_BYTE,
  async execute(context, { remark }) {
    context.emit(Remarked.create({ sender: context.sender, remarkHash: sha256(remark) }))
    return undefined
  },
})

export const calls = [remark]
