// The inference end-of-block hook: the requests whose deadline is this height and the channels
// whose challenge period ends here, read from the height indexes (never a scan). A request still
// open is expired (escrow refunded, provider slashed); a channel still closing is closed (the
// unredeemed deposit refunded).
import type { ExecutionContext } from '../../module.ts'
import { closeChannel, expireRequest } from './records.ts'
import { ChannelStatus, channelClosings, channels, params as inferenceParams, requestDeadlines, requests, RequestStatus } from './state.ts'

export async function inferenceEndBlock(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const due = await requestDeadlines.get(state, height)
  if (due !== undefined) {
    requestDeadlines.delete(state, height)
    const params = await inferenceParams.get(state)
    for (const id of due) {
      const request = await requests.get(state, id)
      if (request === undefined || request.status !== RequestStatus.open || request.deadline !== height) continue
      await expireRequest(context, request, params)
    }
  }
  const closing = await channelClosings.get(state, height)
  if (closing !== undefined) {
    channelClosings.delete(state, height)
    for (const id of closing) {
      const channel = await channels.get(state, id)
      if (channel === undefined || channel.status !== ChannelStatus.closing || channel.closesAt !== height) continue
      await closeChannel(context, channel)
    }
  }
}
