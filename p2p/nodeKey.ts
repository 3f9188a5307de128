// The node's network identity: an ed25519 key whose 32-byte secret (the RFC 8032 seed) the node keeps
// in its home, hex-encoded. The peer id follows from it without starting anything, so
// `testnet init` can write every bootnode address before a single process runs.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { ed25519PublicKey } from '../runtime/crypto/ed25519.ts'
import { concatBytes, fromHex } from '../runtime/crypto/hash.ts'
import { P2pError } from './errors.ts'

export const NODE_KEY_BYTES = 32

function checkNodeKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== NODE_KEY_BYTES) {
    throw new P2pError('INVALID_NODE_KEY', `node key must be ${NODE_KEY_BYTES} bytes`)
  }
}

/** A fresh random node key. */
export function generateNodeKey(): Uint8Array {
  return new Uint8Array(randomBytes(NODE_KEY_BYTES))
}

/** Hex without a prefix: the node key file's content. */
export function nodeKeyToHex(key: Uint8Array): string {
  checkNodeKey(key)
  return Buffer.from(key).toString('hex')
}

export function nodeKeyFromHex(hex: string): Uint8Array {
  const key = fromHex(hex.trim())
  if (key === undefined || key.length !== NODE_KEY_BYTES) {
    throw new P2pError('INVALID_NODE_KEY', `node key must be ${NODE_KEY_BYTES} bytes of hex`)
  }
  return key
}

/** The libp2p private key of a node key (only p2p/ sees this type). */
export function libp2pPrivateKey(key: Uint8Array): PrivateKey {
  checkNodeKey(key)
  // libp2p's raw ed25519 private key is seed ‖ public key
  return privateKeyFromRaw(concatBytes(key, ed25519PublicKey(key)))
}

/** The peer id (base58 `12D3KooW…`) a node with this key has. */
export function peerIdFromNodeKey(key: Uint8Array): string {
  return peerIdFromPrivateKey(libp2pPrivateKey(key)).toString()
}

/** The bootnode address of a node listening on `listen` with key `key`: `<listen>/p2p/<peer id>`. */
export function bootnodeAddress(listen: string, key: Uint8Array): string {
  let address
  try {
    address = multiaddr(listen)
  } catch (cause) {
    throw new P2pError('INVALID_MULTIADDR', `not a multiaddr: ${listen}`, { cause })
  }
  if (address.getPeerId() !== null) throw new P2pError('INVALID_MULTIADDR', `listen address already names a peer: ${listen}`)
  return `${address.toString()}/p2p/${peerIdFromNodeKey(key)}`
}

/** Checks a peer id string (as a `from` or request target); throws INVALID_PEER_ID. */
export function checkPeerId(peer: string): void {
  try {
    peerIdFromString(peer)
  } catch (cause) {
    throw new P2pError('INVALID_PEER_ID', `not a peer id: ${peer}`, { cause })
  }
}

/**
 * Reads the node key from `file`, or creates the file with a fresh key (mode 0600) if it does not
 * exist. Creation is exclusive, so two processes racing on one home end up with the same key.
 */
export async function loadOrCreateNodeKey(file: string): Promise<Uint8Array> {
  try {
    return nodeKeyFromHex(await readFile(file, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const key = generateNodeKey()
  try {
    await writeFile(file, nodeKeyToHex(key) + '\n', { mode: 0o600, flag: 'wx' })
    return key
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return nodeKeyFromHex(await readFile(file, 'utf8'))
    throw error
  }
}
