// The consensus driver's network port (consensus/driver/ports.ts) over p2p's NetworkPort: its
// topics, the catch-up protocol and its penalties mapped to p2p's, and a malformed catch-up
// request turned into the status that scores the asker down. Consensus so never imports p2p/.
import { DriverError } from '../../consensus/driver/driver.ts'
import type { ConsensusNetwork } from '../../consensus/driver/ports.ts'
import { P2pError } from '../../p2p/errors.ts'
import { PenaltyReason, ReqRespProtocol, Topic, type NetworkPort } from '../../p2p/interface.ts'

export function createConsensusNetwork(network: NetworkPort): ConsensusNetwork {
  return {
    publish: (topic, data) => network.publish(Topic[topic], data),
    subscribe: (topic, handler) => network.subscribe(Topic[topic], (message) => handler(message.data)),
    serveCatchUp: (handler) =>
      network.handle(ReqRespProtocol.consensusMessages, async (request) => {
        try {
          return handler(request)
        } catch (error) {
          if (error instanceof DriverError && error.code === 'INVALID_REQUEST') throw new P2pError('INVALID_REQUEST', error.message, { cause: error })
          throw error
        }
      }),
    requestCatchUp: (peer, request) => network.request(peer, ReqRespProtocol.consensusMessages, request),
    peers: () => network.peers().map((peer) => peer.id),
    penalize: (peer, reason) => network.penalize(peer, PenaltyReason[reason]),
  }
}
