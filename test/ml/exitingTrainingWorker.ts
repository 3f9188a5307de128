// A training worker thread that exits at its first step, to test that the pool reports a dead
// thread (WORKER_DIED) for that step and, through its replacement, for every later one, instead
// of leaving them waiting.
import { serveParent } from '../../node/workers/managedWorker.ts'

serveParent<{ type: string }>((message) => {
  if (message.type === 'step') process.exit(5)
})
