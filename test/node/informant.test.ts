// The informant's status line: height, finalized, peers, pool and transactions per second over the
// interval, at info, from the chain's imported blocks (fakes injected through its components).
import t from 'tap'
import { createLogger } from '../../lib/logger.ts'
import type { Chain, ImportedBlock } from '../../node/chain/chain.ts'
import { Informant } from '../../node/informant.ts'
import type { Mempool } from '../../node/mempool/mempool.ts'

t.test('one status line per interval with the blocks imported in it', async (t) => {
  const listeners: Array<(block: ImportedBlock) => void> = []
  let height = 7
  const chain = {
    get head() { return { header: { height } } },
    get finalized() { return { header: { height: height - 1 } } },
    onBlock: (listener: (block: ImportedBlock) => void) => {
      listeners.push(listener)
      return () => void listeners.splice(listeners.indexOf(listener), 1)
    },
  } as unknown as Chain
  const lines: string[] = []
  const informant = new Informant({ intervalMs: 200 }, { chain, mempool: { size: 3 } as unknown as Mempool, peers: () => 2, logger: createLogger({ format: 'json', write: (line) => lines.push(line) }) })
  informant.start()
  height = 8
  for (const listener of listeners) listener({ transactions: new Array(10).fill(null) } as unknown as ImportedBlock)
  while (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  informant.stop()
  const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>
  t.match(line, { level: 'info', msg: 'status', height: 8, finalized: 7, peers: 2, pool: 3 })
  t.ok(typeof line['txsPerSecond'] === 'number' && (line['txsPerSecond'] as number) > 0 && (line['txsPerSecond'] as number) <= 50, `10 transactions in ~0.2 s (${String(line['txsPerSecond'])}/s)`)
  t.equal(listeners.length, 0, 'stop() unsubscribes')
})
