// What a light client asks a full node for: a header, the certificate that finalized it and the
// validator set that signed it, as the bytes they are hashed and signed in, so the client checks
// them itself (consensus/lightClient.ts) and trusts nothing this node says.
import { encodeHeader } from '../../runtime/block.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { encodeValidatorSet, type ValidatorSet } from '../../consensus/types.ts'
import { validatorSetFromState } from '../consensus/consensusChain.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { ApiError, type ApiComponents } from './context.ts'

export function lightMethods({ chain }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({
      name: 'openledger_getLightBlock',
      params: [param.optional(param.uint()).named('height')],
      async handler([requested]) {
        const height = requested ?? chain.finalized.header.height
        const hash = await chain.chainStore.getHash(height)
        const header = hash === undefined ? undefined : await chain.chainStore.getHeader(hash)
        const commit = hash === undefined ? undefined : await chain.chainStore.getCommit(hash)
        if (hash === undefined || header === undefined) return null
        if (commit === undefined) throw new ApiError('UNKNOWN_BLOCK', `block ${height} has no commit certificate (not finalized by validators, or a dev chain)`)
        // the set that voted on `height` is scheduled in the state before it; the current state
        // still holds it while it is recent, older ones come from the versioned state
        let validators: ValidatorSet
        try {
          validators = await validatorSetFromState(chain.state, height)
        } catch {
          validators = await validatorSetFromState({ get: (key) => chain.state.getAt(key, Math.max(0, height - 1)) }, height)
        }
        return { height, hash: toHex(hash), header: toHex(encodeHeader(header)), commit: toHex(commit), validators: toHex(encodeValidatorSet(validators)) }
      },
    }),
  ]
}
