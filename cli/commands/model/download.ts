// `openledger model download`: an adapter, checked against its on-chain weights hash, and its lineage.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { adapterShapes } from '../../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../../ml/model/params.ts'
import { downloadBlob } from '../../../node/blobs/blobClient.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt } from '../../parse.ts'
import { client, common, need } from './shared.ts'

export async function downloadModel(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common, out: { type: 'string' } } })
  const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
  const out = need(values.out, '--out')
  const rpc = client(values)
  const version = await rpc.call('openledger_getModelVersion', [id])
  if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
  const base = await rpc.call('openledger_getBaseModel', [version.base])
  if (base === null || base.config === null) throw new CliError('FAILED', `base model ${version.base} has no readable architecture`)
  const bytes = await downloadBlob(rpc, version.adapter)
  const shapes = adapterShapes(base.config, { rank: version.hyper.rank, alpha: version.hyper.alpha })
  const hash = toHex(tensorsHash(shapes, decodeTensors(bytes, shapes)))
  if (hash !== version.weightsHash) throw new CliError('FAILED', `the adapter downloaded hashes to ${hash}, the chain records ${version.weightsHash}`)
  await mkdir(out, { recursive: true })
  await writeFile(join(out, 'adapter.bin'), bytes)
  await writeFile(join(out, 'lineage.json'), JSON.stringify({ ...version, baseModel: base }, null, 2) + '\n')
  io.out(`adapter of model ${id} (${bytes.length} bytes, weights hash ${hash}, verified) and its lineage written to ${out}`)
  return 0
}
