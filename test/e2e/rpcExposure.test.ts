// The RPC port of a real dev node under a stranger's connections (issue 21, defects 2 and 9): open
// connections are capped per address, half-sent requests are closed by the header timeout, the node
// keeps serving; operator-only methods on an address others can reach need a second flag.
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { startDevNode, stopNode, tempHome } from './harness.ts'

function hold(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    const closed = new Promise<void>((done) => socket.once('close', () => done()))
    socket.once('connect', () => {
      socket.on('error', () => {})
      resolve({ socket, received: () => text, closed })
    })
    socket.once('error', reject)
  })
}

t.test('a stranger cannot hold the RPC port', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '500', '--rpc-max-connections-per-ip', '40', '--rpc-header-timeout', '2000', '--rpc-request-timeout', '3000'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const port = Number(new URL(node.rpcUrl).port)
  const held = await Promise.all(Array.from({ length: 60 }, () => hold(port)))
  t.teardown(() => held.forEach((h) => h.socket.destroy()))
  for (const { socket } of held) socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n')
  // every connection ends: 20 refused at once, 40 closed by the header timeout
  await Promise.all(held.map((h) => h.closed))
  const refused = held.filter((h) => /^HTTP\/1.1 503[\s\S]*TOO_MANY_CONNECTIONS_FROM_ADDRESS/.test(h.received())).length
  const timedOut = held.filter((h) => /^HTTP\/1.1 408[\s\S]*REQUEST_TIMEOUT/.test(h.received())).length
  t.equal(refused, 20, 'connections past the per-address cap are refused')
  t.equal(timedOut, 40, 'half-sent requests are closed by the header timeout')
  t.equal(await node.rpc.call('system_name'), 'openledger', 'the node serves once they are gone')
})

t.test('operator-only methods on a reachable address need --unsafe-rpc-external', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  await t.rejects(startDevNode(home.path, ['--rpc-host', '0.0.0.0', '--rpc-methods', 'unsafe']), /--unsafe-rpc-external/)
  const local = await startDevNode(home.path, ['--rpc-methods', 'unsafe'])
  t.teardown(() => stopNode(local, 'SIGKILL'))
  t.equal(await local.rpc.call('system_name'), 'openledger', 'on loopback, unsafe needs nothing more')
})
