// `openledger model …` against an in-process dev node (the shipped base models at genesis, alice
// training): list, train --wait (progress, then the published version), show, status, download
// (hash-checked), evaluate (re-run here, identical to the chain's record), and usage errors with
// stable CliError codes.
import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { adapterShapes } from '../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../ml/model/params.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { seedDatanet } from '../../cli/commands/datanetSeed.ts'
import { eventData, TxBatch } from '../../cli/txBatch.ts'
import { baseModelArgs } from '../runtime/modules/models/harness.ts'
import { modelCommand } from '../../cli/commands/model/index.ts'
import type { CliIo } from '../../cli/io.ts'
import { loadBaseModel } from '../../node/models/assets.ts'
import { startDevNode } from '../node/models/fixtures.ts'
import { found } from '../e2e/harness.ts'

const quiet: CliIo = { out: () => {}, err: () => {}, secret: async () => '' }

t.test('model list, train --wait, show, status, download, evaluate and usage errors', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-cli-model-'))
  const dev = await startDevNode(join(home, 'node'))
  t.teardown(async () => {
    await dev.node.stop()
    await rm(home, { recursive: true, force: true })
  })
  const rpc = ['--rpc', dev.url]
  const model = async (...args: string[]): Promise<{ code: number; lines: string[] }> => {
    const lines: string[] = []
    const code = await modelCommand.run([...args, ...rpc], { ...quiet, out: (line) => lines.push(line) })
    return { code, lines }
  }
  const { datanet } = await seedDatanet(quiet, dev.rpc, createRuntime(), devAccount('bob'), { corpus: 'moby', contributors: 2, limit: 3 })

  const listed = await model('list')
  t.equal(listed.code, 0)
  t.match(listed.lines.join('\n'), /base models\n\s+1\s+ol-lm-sotu-2m\s+lm\s+4x128, vocab 8192, context 64\s+weights 0x[0-9a-f]{16}…\n\s+2\s+ol-spam-cls\s+classifier[^\n]*\npublished models\n\s+\(none yet\)/)

  const tiny = ['--rank', '4', '--alpha', '8', '--steps', '4', '--batch', '2', '--length', '32', '--lr', '0.002', '--seed', '7', '--checkpoint-every', '2']
  const trained = await model('train', '--from', 'bob', '--home', home, '--base', '1', '--datanet', String(datanet), ...tiny, '--wait', '--timeout', '60')
  t.equal(trained.code, 0, trained.code === 0 ? 'train --wait exits 0' : trained.lines.join('\n'))
  const out = trained.lines.join('\n')
  t.match(trained.lines[0], /^training job 1 created \(transaction 0x[0-9a-f]{64}\), 0\.008 OPEN in escrow$/, 'the minimum fee: 0.001 × 4 steps × 2')
  t.match(out, new RegExp(`trainer\\s+${toHex(devAccount('alice').address)}`))
  t.match(out, /\n {2}verifiers {2}\(none\)/)
  const progress = trained.lines.filter((line) => line.startsWith('job 1: '))
  t.ok(progress.length >= 1, `progress lines while it trains: ${progress.join(' | ')}`)
  t.ok(progress.every((line) => /^job 1: (queued|fetching|training|evaluating|computed|submitted|published|verifying)/.test(line)), 'each a phase or status')
  t.equal(progress.at(-1), 'job 1: published')
  t.match(out, /model version 1 \(job 1\)\n {2}owner {8}0x[0-9a-f]{40}\n {2}adapter {6}0x[0-9a-f]{64}\n {2}weights {6}0x[0-9a-f]{64}/)
  t.match(out, /base model {3}1 ol-lm-sotu-2m/)

  const version = found(await dev.rpc.call('openledger_getModelVersion', [1]), 'model version 1')
  const shown = await model('show', '1')
  t.equal(shown.code, 0)
  t.match(shown.lines.join('\n'), new RegExp(`weights\\s+${version.weightsHash}[\\s\\S]*datanet\\s+${datanet} version 1, root 0x[0-9a-f]{64}[\\s\\S]*held-out\\s+loss \\d\\.\\d{4} \\(base\\) → \\d\\.\\d{4} \\(adapted\\)`))
  t.match(JSON.parse((await model('show', '1', '--json')).lines[0] ?? 'null'), { id: 1, weightsHash: version.weightsHash })
  t.match(JSON.parse((await model('show', '2', '--base', '--json')).lines[0] ?? 'null'), { name: 'ol-spam-cls', kind: 'classifier' })

  const status = await model('status', '1')
  t.equal(status.code, 0)
  t.match(status.lines.join('\n'), /^job 1: published \(attempt 1\)[\s\S]*hyper\s+rank 4, alpha 8, steps 4, batch 2, length 32, lr 0\.002, seed 7, checkpoint every 2[\s\S]*published\s+model version 1[\s\S]*this node\s+trainer, submitted \[#{30}\] 4\/4/)
  t.match((await model('list', '--jobs')).lines, [/^job 1\s+published\s+base 1\s+datanets 1:1\s+steps 4\s+owner 0x[0-9a-f]{40}\s+→ model 1$/])

  const dir = join(home, 'download')
  const downloaded = await model('download', '1', '--out', dir)
  t.equal(downloaded.code, 0)
  t.match(downloaded.lines[0], /verified/)
  const bytes = new Uint8Array(await readFile(join(dir, 'adapter.bin')))
  const shapes = adapterShapes((await loadBaseModel('ol-lm-sotu-2m')).entry.config, version.hyper)
  t.equal(toHex(tensorsHash(shapes, decodeTensors(bytes, shapes))), version.weightsHash, 'the file hashes to the chain\'s weights hash')
  t.match(JSON.parse(await readFile(join(dir, 'lineage.json'), 'utf8')), { id: 1, baseModel: { name: 'ol-lm-sotu-2m' } })

  const evaluated = await model('evaluate', '1')
  t.equal(evaluated.code, 0, evaluated.code === 0 ? 'evaluate exits 0' : evaluated.lines.join('\n'))
  t.match(evaluated.lines.join('\n'), /margin\s+-?\d+\.\d{4} nats per token[\s\S]*chain record\s+identical/)
  t.match(JSON.parse((await model('evaluate', '1', '--json')).lines[0] ?? 'null'), { model: 1, unit: 'tokens', matchesChain: true })

  // usage errors: refused before anything is sent, with stable codes
  const code = (...args: string[]) => model(...args).then(() => 'no error', (error: { code?: string }) => error.code ?? String(error))
  t.equal(await code('train', '--from', 'bob', '--datanet', '1'), 'USAGE', 'missing --base')
  t.equal(await code('train', '--from', 'bob', '--base', '1'), 'USAGE', 'missing --datanet')
  for (const lr of ['0.0000001', '2', 'fast', '0.0020001']) t.equal(await code('train', '--from', 'bob', '--base', '1', '--datanet', '1', '--lr', lr), 'BAD_ARGUMENT', `--lr ${lr}`)
  t.equal(await code('train', '--from', 'bob', '--base', '0', '--datanet', '1'), 'BAD_ARGUMENT', '--base 0')
  t.equal(await code('train', '--from', 'bob', '--base', '1', '--datanet', '9'), 'NOT_FOUND', 'no such datanet')
  t.equal(await code('status'), 'USAGE')
  t.equal(await code('download', '1'), 'USAGE', 'missing --out')
  t.equal(await code('show', '7'), 'NOT_FOUND')
  t.equal(await code('evaluate', '7'), 'NOT_FOUND')
  t.equal(await code('retrain'), 'USAGE')
  t.same((await dev.rpc.call('openledger_listTrainingJobs')).length, 1, 'no job was created by a refused command')

  // a job that fails on this node (a base model registered with weights nobody uploaded: the
  // trainer cannot fetch them): --wait ends with the worker's error instead of polling until the
  // chain's deadline
  const runtime = createRuntime()
  const register = runtime.moduleByName('models')?.calls.find((c) => c.name === 'registerBaseModel')
  if (register === undefined) throw new Error('models.registerBaseModel')
  const batch = new TxBatch(dev.rpc, runtime)
  const [registered] = await batch.wait([await batch.submit(devAccount('bob'), 'models', 'registerBaseModel', register.args.toJson(baseModelArgs({ name: 'weights-nowhere' })))])
  const base = Number(eventData(found(registered, 'the registration receipt'), 'models', 'BaseModelRegistered')?.['model'])
  t.ok(base > 2, `registered base model ${base}`)
  const failed = await model('train', '--from', 'bob', '--base', String(base), '--datanet', String(datanet), ...tiny, '--wait', '--timeout', '120').then(
    (result) => ({ code: `exit ${result.code}`, message: result.lines.join('\n') }),
    (error: { code?: string; message?: string }) => ({ code: error.code, message: error.message ?? '' }),
  )
  t.equal(failed.code, 'FAILED', failed.message)
  t.match(failed.message, /^job 2 failed on this node as trainer: [A-Z_]+: .+; on chain it stays training until block #\d+, then it is reassigned or refunded$/, 'the worker\'s error, and what the chain will do')
})
