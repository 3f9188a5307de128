import t from 'tap'
import { createLogger } from '../../../lib/logger.ts'
import { FinalizedFollower } from '../../../node/chain/finalizedFollower.ts'

interface FakeBlock { readonly height: number; readonly finalized: boolean }

/** The chain's block listeners, as Chain.onBlock keeps them. */
class FakeChain {
  readonly listeners = new Set<(block: FakeBlock) => void>()
  onBlock(listener: (block: FakeBlock) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  emit(height: number, finalized = true): void {
    for (const listener of this.listeners) listener({ height, finalized })
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

function setup(work: (block: FakeBlock, signal: AbortSignal) => Promise<void>, reconcile?: (signal: AbortSignal) => Promise<void>) {
  const chain = new FakeChain()
  const lines: Array<{ level: string; msg: string; error?: string }> = []
  const logger = createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }) })
  const follower = new FinalizedFollower<FakeBlock>({ what: 'test work', reconcile, onFinalized: work }, { chain, logger })
  return { chain, lines, follower }
}

t.test('reconcile first, then finalized blocks one at a time in order; unfinalized blocks are not work', async (t) => {
  const log: string[] = []
  let running = 0
  const { chain, follower } = setup(async (block) => {
    running++
    t.equal(running, 1, 'never two pieces at once')
    log.push(`start ${block.height}`)
    // a later block's work that would finish sooner still waits its turn
    await new Promise((resolve) => setTimeout(resolve, 20 - block.height * 5))
    log.push(`end ${block.height}`)
    running--
  }, async () => {
    log.push('reconcile')
  })
  follower.start()
  chain.emit(1)
  chain.emit(2, false)
  chain.emit(2)
  chain.emit(3)
  await follower.idle()
  t.same(log, ['reconcile', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  await follower.stop()
})

t.test('a failed piece is logged as a warning and the queue goes on', async (t) => {
  const done: number[] = []
  const { chain, follower, lines } = setup(async (block) => {
    if (block.height === 2) throw new Error('boom')
    done.push(block.height)
  }, async () => {
    throw new Error('reconcile broke')
  })
  follower.start()
  chain.emit(1)
  chain.emit(2)
  chain.emit(3)
  await follower.idle()
  t.same(done, [1, 3])
  t.same(lines.map(({ level, msg, error }) => ({ level, msg, error })), [
    { level: 'warn', msg: 'test work failed', error: 'reconcile broke' },
    { level: 'warn', msg: 'test work failed', error: 'boom' },
  ])
  await follower.stop()
})

t.test('stop aborts the signal, waits for the piece running and skips the rest; no work after stop', async (t) => {
  const gate = deferred()
  const started: number[] = []
  let finished = false
  let seen: AbortSignal | undefined
  const { chain, follower, lines } = setup(async (block, signal) => {
    started.push(block.height)
    seen = signal
    await gate.promise
    // what a piece cut short does: its wait fails once the signal is aborted
    signal.throwIfAborted()
    finished = true
  })
  follower.start()
  chain.emit(1)
  chain.emit(2)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [1])
  let stopped = false
  const stopping = follower.stop().then(() => (stopped = true))
  t.equal(seen?.aborted, true, 'the running piece sees the abort')
  t.equal(follower.signal.aborted, true)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(stopped, false, 'stop waits for the piece running')
  gate.resolve()
  await stopping
  t.equal(finished, false)
  t.same(started, [1], 'the queued block was skipped')
  t.equal(chain.listeners.size, 0, 'unsubscribed')
  chain.emit(3)
  follower.enqueue(async () => {
    started.push(99)
  })
  await follower.idle()
  t.same(started, [1], 'nothing runs after stop')
  t.same(lines.map(({ level, msg }) => ({ level, msg })), [{ level: 'debug', msg: 'test work stopped' }], 'the aborted piece is not a warning')
})

t.test('the signal handed out before start is the one stop aborts; a restart gets a fresh one', async (t) => {
  const heights: number[] = []
  const { chain, follower } = setup(async (block) => {
    heights.push(block.height)
  })
  const early = follower.signal
  follower.start()
  follower.start()
  t.equal(chain.listeners.size, 1, 'a second start does not subscribe twice')
  t.equal(follower.signal, early)
  await follower.stop()
  t.equal(early.aborted, true)
  follower.start()
  t.equal(follower.signal.aborted, false)
  chain.emit(5)
  await follower.idle()
  t.same(heights, [5])
  await follower.stop()
})
