// A hostile peer against a running validator process: malformed, oversized, forged and
// cross-chain-replayed consensus messages are rejected without harm and cost the sender its score
// until it is banned; a stale replay of a real vote is dropped; the chain keeps finalizing.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { encodeSignedVote, signVote } from '../../consensus/types.ts'
import { createLogger } from '../../lib/logger.ts'
import { readValidatorKey } from '../../node/keyFiles.ts'
import { fromHex } from '../../runtime/crypto/hash.ts'
import { generateEd25519FromSeed } from '../../runtime/crypto/ed25519.ts'
import { Topic } from '../../p2p/interface.ts'
import { generateNodeKey } from '../../p2p/nodeKey.ts'
import { P2pNetwork } from '../../p2p/p2pNetwork.ts'
import { found, waitFor } from './harness.ts'
import { createTestnet, headHeight, peerIdOf, waitForHeight, type TestnetNode } from './testnet.ts'
import type { PeerView } from '../../node/rpc/contract.ts'

t.test('a hostile peer is rejected, scored down and banned; the validator keeps finalizing', async (t) => {
  const net = await createTestnet({ validators: 1, blockTimeMs: 500 })
  t.teardown(net.remove)
  const [node] = net.nodes as [TestnetNode]
  await net.start(node)
  await waitForHeight([node], 2)
  const { chainId } = await node.rpc.call('system_properties')
  const genesisHash = fromHex(found(await node.rpc.call('chain_getBlockHash', [0]), 'the genesis hash')) as Uint8Array
  const config = JSON.parse(await readFile(join(node.home, 'config.json'), 'utf8')) as { p2p: { listen: string[] } }
  const address = `${config.p2p.listen[0]}/p2p/${await peerIdOf(node)}`
  const validatorKey = await readValidatorKey(join(node.home, 'validator_key.json'))

  // the rogue speaks the chain's protocol, but allows itself oversized votes
  const captured: Uint8Array[] = []
  const rogue = new P2pNetwork(
    { nodeKey: generateNodeKey(), listen: ['/ip4/127.0.0.1/tcp/0'], bootnodes: [address], genesisHash, topicMaxBytes: { [Topic.votes]: 64 * 1024 } },
    { logger: createLogger({ level: 'error' }) },
  )
  rogue.subscribe(Topic.votes, ({ data }) => {
    captured.push(data)
    return 'ignore'
  })
  t.teardown(() => rogue.stop())
  await rogue.start()
  await waitFor(async () => (rogue.subscribers(Topic.votes).length > 0 && captured.length > 0 ? true : undefined), 'the rogue hears votes')
  const roguePeer = async (): Promise<PeerView | undefined> => (await node.rpc.call('system_peers')).find((peer) => peer.peerId === rogue.peerId)
  const scoreOf = async (): Promise<number> => (await roguePeer())?.score ?? Number.NaN

  const height = (await node.rpc.call('openledger_consensusState')).height
  // malformed bytes
  await rogue.publish(Topic.votes, new Uint8Array(randomBytes(100)))
  await waitFor(async () => ((await scoreOf()) < 0 ? true : undefined), 'a penalty for malformed bytes')
  t.pass('malformed vote bytes are rejected and cost the sender')

  // forged: claims to be the validator, signed by another key
  const impostor = generateEd25519FromSeed(new Uint8Array(randomBytes(32)))
  const forged = { ...signVote(chainId, { type: 'prevote', height, round: 0, blockHash: undefined, validator: impostor.publicKey }, impostor.secretKey), validator: validatorKey.publicKey }
  let before = await scoreOf()
  await rogue.publish(Topic.votes, encodeSignedVote(forged))
  await waitFor(async () => ((await scoreOf()) < before - 5 ? true : undefined), 'a penalty for a forged vote')
  t.pass('a vote with a forged signature is rejected and costs the sender')

  // replayed from another chain: the real validator's signature, but over another chain id
  before = await scoreOf()
  const crossChain = signVote(chainId + 1, { type: 'precommit', height: height + 1, round: 0, blockHash: undefined, validator: validatorKey.publicKey }, validatorKey.secretKey)
  await rogue.publish(Topic.votes, encodeSignedVote(crossChain))
  await waitFor(async () => ((await scoreOf()) < before - 5 ? true : undefined), 'a penalty for a cross-chain vote')
  t.pass("a vote signed for another chain is rejected and costs the sender")

  // a stale replay of a real vote: dropped (already seen, or a past height), no harm done
  const heightBefore = await headHeight(node)
  const replayer = new P2pNetwork({ nodeKey: generateNodeKey(), listen: ['/ip4/127.0.0.1/tcp/0'], bootnodes: [address], genesisHash }, { logger: createLogger({ level: 'error' }) })
  t.teardown(() => replayer.stop())
  await replayer.start()
  await waitFor(async () => (replayer.peers().length > 0 ? true : undefined), 'the replayer connects')
  for (const vote of captured.slice(0, 5)) await replayer.publish(Topic.votes, vote)
  await waitForHeight([node], heightBefore + 2)
  t.pass('replayed old votes change nothing; the validator keeps finalizing')

  // oversized, then more garbage: the rogue falls below the ban threshold and is cut off
  await rogue.publish(Topic.votes, new Uint8Array(4 * 1024))
  for (let i = 0; i < 10 && (await roguePeer()) !== undefined; i++) await rogue.publish(Topic.votes, new Uint8Array(randomBytes(64 + i)))
  await waitFor(async () => ((await roguePeer()) === undefined ? true : undefined), 'the rogue is banned and disconnected')
  t.pass('after an oversized message and more garbage the rogue is banned')
  const metrics = await (await fetch(`http://127.0.0.1:${JSON.parse(await readFile(join(node.home, 'config.json'), 'utf8')).metrics.port}/metrics`)).text()
  t.match(metrics, /openledger_p2p_gossip_messages_total\{topic="votes",verdict="reject"/, 'gossip reject verdicts are counted')
  t.match(metrics, /openledger_p2p_peer_bans_total\{[^}]*\} [1-9]/, 'the ban is counted')

  const still = await headHeight(node)
  await waitForHeight([node], still + 2)
  t.pass('the validator keeps finalizing')
})
