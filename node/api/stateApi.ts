// state_*: raw storage reads at any block inside the pruning window, with Merkle proofs a light
// client verifies against the header's state root (runtime/state/proof.ts verifyStateProof).
import { toHex } from '../../runtime/crypto/hash.ts'
import { encodeStateProof } from '../../runtime/state/proof.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { resolveBlock, type ApiComponents } from './context.ts'
import { listEntries } from './pagination.ts'

const storageKey = () => param.hex({ maxBytes: 256 })

export function stateMethods({ chain }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({
      name: 'state_getStorage',
      params: [storageKey().named('key'), param.optional(param.hash()).named('at')],
      async handler([key, at]) {
        const block = await resolveBlock(chain, at)
        const value = block.header.height === chain.state.version ? await chain.state.get(key) : await chain.state.getAt(key, block.header.height)
        return value === undefined ? null : toHex(value)
      },
    }),
    defineMethod({
      name: 'state_getReadProof',
      params: [param.array(storageKey(), { maxLength: 64 }).named('keys'), param.optional(param.hash()).named('at')],
      async handler([keys, at]) {
        const block = await resolveBlock(chain, at)
        const proofs = []
        for (const key of keys) {
          const value = await chain.state.getAt(key, block.header.height)
          const proof = await chain.state.prove(key, block.header.height)
          proofs.push({ key: toHex(key), value: value === undefined ? null : toHex(value), proof: toHex(encodeStateProof(proof)) })
        }
        return { at: toHex(block.hash), number: block.header.height, stateRoot: toHex(block.header.stateRoot), proofs }
      },
    }),
    defineMethod({
      name: 'state_getKeysPaged',
      params: [storageKey().named('prefix'), param.uint({ max: 1000 }).named('count'), param.optional(storageKey()).named('startKey')],
      async handler([prefix, count, startKey], { signal }) {
        const after = startKey === undefined ? undefined : toHex(startKey)
        return listEntries(chain.state.entries(prefix), { count, max: 1000, signal }, ([key]) => {
          const hex = toHex(key)
          return after !== undefined && hex <= after ? undefined : hex
        })
      },
    }),
  ]
}
