// The attribution end-of-block hook: first the inference records written since the cursor that
// are RANDOMNESS_LOOKAHEAD blocks old (their attributor's draw reads a mix made after them), at
// most maxAssignPerBlock of them; then the attributions whose phase ends at this height, read from
// the deadline index (never a scan).
import type { ExecutionContext } from '../../module.ts'
import { records } from '../inference/index.ts'
import { RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import { assign, expire } from './lifecycle.ts'
import { attributions, cursor, deadlines, params as attributionParams } from './state.ts'

export async function attributionEndBlock(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const params = await attributionParams.get(state)
  let last = await cursor.get(state)
  for (let assigned = 0; assigned < params.maxAssignPerBlock; assigned++) {
    const record = await records.get(state, last + 1)
    if (record === undefined || record.height + RANDOMNESS_LOOKAHEAD > height) break
    attributions.set(state, record.id, await assign(context, record, params))
    last = record.id
  }
  if (last !== (await cursor.get(state))) cursor.set(state, last)
  const due = await deadlines.get(state, height)
  if (due === undefined) return
  deadlines.delete(state, height)
  for (const id of due) {
    const entry = await attributions.get(state, id)
    if (entry === undefined || entry.deadline !== height) continue
    attributions.set(state, id, await expire(context, entry, params))
  }
}
