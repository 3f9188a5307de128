// A training worker thread that exits at its first step, to test that the pool reports a dead
// thread (WORKER_DIED) for that step and for every later one, instead of leaving them waiting.
import { parentPort } from 'node:worker_threads'

parentPort?.on('message', (message: { type: string }) => {
  if (message.type === 'step') process.exit(5)
})
