// `openledger model register`: uploads a base model's weights (and ONNX export) and registers it.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { ENGINE_VERSION } from '../../../ml/index.ts'
import { paramShapes, type ModelConfig } from '../../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../../ml/model/params.ts'
import { uploadBlob } from '../../../node/blobs/blobClient.ts'
import { shippedManifest } from '../../../node/models/baseModels.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { canonicalArchitecture } from '../../../runtime/modules/models/index.ts'
import { CliError, type CliIo } from '../../io.ts'
import { eventData } from '../../txBatch.ts'
import { client, common, need, send } from './shared.ts'

export async function registerModel(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...common, from: { type: 'string' }, name: { type: 'string' }, config: { type: 'string' }, weights: { type: 'string' }, onnx: { type: 'string' }, force: { type: 'boolean' } } })
  const rpc = client(values)
  let config: ModelConfig
  try {
    config = JSON.parse(await readFile(need(values.config, '--config'), 'utf8')) as ModelConfig
  } catch (cause) {
    throw new CliError('BAD_ARGUMENT', `cannot read the model config ${values.config ?? ''}`, { cause })
  }
  const weights = new Uint8Array(await readFile(need(values.weights, '--weights')))
  const shapes = paramShapes(config)
  let weightsHash: Uint8Array
  try {
    weightsHash = tensorsHash(shapes, decodeTensors(weights, shapes))
  } catch (cause) {
    throw new CliError('BAD_ARGUMENT', `the weights file does not hold this config's parameters: ${(cause as Error).message}`, { cause })
  }
  const manifest = await shippedManifest()
  if (manifest === undefined) throw new CliError('FAILED', 'this openledger ships no tokenizer to register the model with')
  const artifact = await uploadBlob(rpc, weights)
  const onnx = values.onnx === undefined ? undefined : await uploadBlob(rpc, new Uint8Array(await readFile(values.onnx)))
  const receipt = await send(io, values, 'registerBaseModel', {
    name: need(values.name, '--name'), kind: config.kind === 'lm' ? 0 : 1, architecture: canonicalArchitecture(config), artifact: artifact.cid, weightsHash: toHex(weightsHash),
    onnx: onnx?.cid ?? toHex(new Uint8Array(32)), tokenizer: manifest.tokenizer.name, tokenizerHash: manifest.tokenizer.hash, engineVersion: ENGINE_VERSION,
  })
  const event = eventData(receipt, 'models', 'BaseModelRegistered')
  io.out(`base model ${String(event?.['model'])} registered (transaction ${receipt.hash}): weights ${toHex(weightsHash)} at ${artifact.cid}`)
  return 0
}
