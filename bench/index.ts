// `npm run bench`: every benchmark of the node, each figure printed next to the reference it is
// measured against in the same run. `--quick` shortens every part; `--only NAME[,NAME]` picks parts
// (signatures, stateTransition, stateRoot, devChain, blobs).
import { benchBlobs } from './blobs.ts'
import { benchDevChain } from './devChain.ts'
import { benchSignatures } from './signatures.ts'
import { benchStateRoot } from './stateRoot.ts'
import { benchStateTransition } from './stateTransition.ts'

const quick = process.argv.includes('--quick')
const onlyIndex = process.argv.indexOf('--only')
const only = onlyIndex >= 0 ? new Set((process.argv[onlyIndex + 1] ?? '').split(',')) : undefined
const log = (line: string) => console.log(line)
const wanted = (name: string) => only === undefined || only.has(name)

console.log(`openledger benchmarks${quick ? ' (quick)' : ''} — node ${process.version}, ${(await import('node:os')).availableParallelism()} cores\n`)

let signatures: Awaited<ReturnType<typeof benchSignatures>> | undefined
if (wanted('signatures')) {
  console.log('== signature verification')
  signatures = await benchSignatures({ log, quick })
  console.log()
}
let transition: Awaited<ReturnType<typeof benchStateTransition>> | undefined
if (wanted('stateTransition')) {
  console.log('== state transition')
  transition = await benchStateTransition({ log, quick })
  console.log()
}
if (wanted('stateRoot')) {
  console.log('== state root update cost vs state size')
  await benchStateRoot({ log, quick })
  console.log()
}
if (wanted('devChain')) {
  console.log('== end to end on the dev chain')
  const devChain = await benchDevChain({ log, quick })
  if (signatures !== undefined) {
    const limit = signatures.secp256k1PoolPerSecond
    const ideal = 2 * signatures.secp256k1NativePerCore
    console.log(`  vs signature-verification limit, both cores (worker pool measured above): ${(devChain.finalizedPerSecond / limit).toFixed(2)}x of ${Math.round(limit).toLocaleString('en-US')}/s (target >= 0.70)`)
    console.log(`  vs 2 x single-core native recovery:                                    ${(devChain.finalizedPerSecond / ideal).toFixed(2)}x of ${Math.round(ideal).toLocaleString('en-US')}/s`)
  }
  if (transition !== undefined) console.log(`  vs state transition with commit alone: ${(devChain.finalizedPerSecond / transition.executeAndCommitPerSecond).toFixed(2)}x`)
  console.log()
}
if (wanted('blobs')) {
  console.log('== blob store and datanet versions')
  await benchBlobs({ log, quick })
  console.log()
}
