// The models end-of-block hook: the jobs whose deadline is this height, and only those (read from
// the deadline index, never a scan of all jobs). A job still in the round that set the deadline
// expires (lifecycle.ts expire): a silent trainer is replaced, silent verifiers are replaced, a
// dispute is settled with the votes it has.
import type { ExecutionContext } from '../../module.ts'
import { expire } from './lifecycle.ts'
import { deadlines, JobStatus, jobs, params as modelsParams } from './state.ts'

export async function modelsEndBlock(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const due = await deadlines.get(state, height)
  if (due === undefined) return
  deadlines.delete(state, height)
  const params = await modelsParams.get(state)
  for (const id of due) {
    const job = await jobs.get(state, id)
    if (job === undefined || job.deadline !== height || job.status === JobStatus.published || job.status === JobStatus.refunded) continue
    jobs.set(state, id, await expire(context, job, params))
  }
}
