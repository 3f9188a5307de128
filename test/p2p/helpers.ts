// Shared by the network tests: waiting for conditions, and the harness each implementation provides
// to the behaviour suite.
import { setTimeout as sleep } from 'node:timers/promises'
import type { NetworkPort, Topic } from '../../p2p/interface.ts'
import type { P2pMetrics } from '../../p2p/metrics.ts'
import type { NetworkPolicyOptions } from '../../p2p/options.ts'

export interface Teardown {
  teardown(fn: () => unknown): void
}

/** Polls `check` until it holds; fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, what = 'condition', ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${ms} ms`)
    await sleep(10)
  }
}

export interface NetworkHarness {
  /** A node that is not started yet; stopped at teardown. */
  create(t: Teardown, options?: NetworkPolicyOptions, components?: { metrics?: P2pMetrics }): Promise<NetworkPort>
  /** Starts the nodes and connects every pair; resolves when each sees all the others. */
  connect(nodes: NetworkPort[]): Promise<void>
  /** Waits until every delivery in flight has been handled, where the implementation can tell. */
  settle?(): Promise<void>
}

export async function createConnected(t: Teardown, harness: NetworkHarness, count: number, options: NetworkPolicyOptions[] = []): Promise<NetworkPort[]> {
  const nodes: NetworkPort[] = []
  for (let i = 0; i < count; i++) nodes.push(await harness.create(t, options[i] ?? {}))
  await harness.connect(nodes)
  return nodes
}

/** Waits until `publisher` knows every node of `others` to be subscribed to `topic`. */
export async function waitForSubscribers(publisher: NetworkPort, topic: Topic, others: NetworkPort[]): Promise<void> {
  await eventually(() => others.every((other) => publisher.subscribers(topic).includes(other.peerId)), `subscribers of ${topic}`)
}

export function peerScore(node: NetworkPort, peer: string): number | undefined {
  return node.peers().find((info) => info.id === peer)?.score
}

export function isConnected(node: NetworkPort, peer: string): boolean {
  return node.peers().some((info) => info.id === peer)
}

export function bytes(text: string, size = 0): Uint8Array {
  const encoded = Buffer.from(text, 'utf8')
  const out = new Uint8Array(Math.max(size, encoded.length))
  out.set(encoded)
  return out
}

export function text(data: Uint8Array): string {
  return Buffer.from(data).toString('utf8').replace(/\0+$/, '')
}

/** A `P2pMetrics` that records every update as a string, e.g. `gossip votes accept`. */
export function recordingMetrics(): { metrics: P2pMetrics; events: string[]; peers: () => number } {
  const events: string[] = []
  let peers = 0
  return {
    events,
    peers: () => peers,
    metrics: {
      peers: { set: (value) => void (peers = value) },
      gossipMessages: { inc: ({ topic, verdict }) => void events.push(`gossip ${topic} ${verdict}`) },
      reqRespRequests: { inc: ({ protocol, direction, result }) => void events.push(`${direction} ${protocol} ${result}`) },
      peerPenalties: { inc: ({ reason }) => void events.push(`penalty ${reason}`) },
      peerBans: { inc: () => void events.push('ban') },
    },
  }
}
