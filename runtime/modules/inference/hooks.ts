// The inference end-of-block hook: the requests whose deadline is this height and the channels
// whose challenge period ends here, read from the height indexes (never a scan). A request still
// open is expired (escrow refunded, provider slashed); a channel still closing is closed (the
// unredeemed deposit refunded), and the API keys whose closing is due (apiKeys.ts: the rest of the
// cap refunded). Then re-checks (checks.ts): the records written since the cursor
// that are RANDOMNESS_LOOKAHEAD blocks old are sampled (at most MAX_SAMPLES_PER_BLOCK a block), and
// the checks whose phase ends here move on.
import type { ExecutionContext } from '../../module.ts'
import { RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import { closeDueApiKeys } from './apiKeys.ts'
import { expireCheck, sample } from './checks.ts'
import { closeChannel, expireRequest } from './records.ts'
import {
  ChannelStatus, channelClosings, channels, checkCursor, checkDeadlines, checks, params as inferenceParams, records, requestDeadlines, requests, RequestStatus,
} from './state.ts'

/** records whose sample is drawn per block at most (one redeem writes up to 65,536: the rest wait) */
export const MAX_SAMPLES_PER_BLOCK = 256

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
  await closeDueApiKeys(context)
  await inferenceChecks(context)
}

async function inferenceChecks(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const params = await inferenceParams.get(state)
  let last = await checkCursor.get(state)
  for (let drawn = 0; drawn < MAX_SAMPLES_PER_BLOCK; drawn++) {
    const record = await records.get(state, last + 1)
    if (record === undefined || record.height + RANDOMNESS_LOOKAHEAD > height) break
    const check = await sample(context, record, params)
    if (check !== undefined) checks.set(state, record.id, check)
    last = record.id
  }
  if (last !== (await checkCursor.get(state))) checkCursor.set(state, last)
  const due = await checkDeadlines.get(state, height)
  if (due === undefined) return
  checkDeadlines.delete(state, height)
  for (const id of due) {
    const check = await checks.get(state, id)
    if (check === undefined || check.deadline !== height) continue
    checks.set(state, id, await expireCheck(context, check, params))
  }
}
