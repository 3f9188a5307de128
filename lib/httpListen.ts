// Listening and closing for the node's HTTP servers (RPC, metrics, serving API): one place for the
// error a busy port gives, the bound address and the close that does not wait for idle sockets.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listens on host:port; a failure (port taken, address not ours) rejects with `toError(cause)`. */
export async function listenHttp(server: Server, host: string, port: number, toError: (cause: unknown) => Error): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (cause: unknown): void => reject(toError(cause))
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** The bound address, or undefined when the server is not listening. */
export function boundAddress(server: Server | undefined): { host: string; port: number } | undefined {
  const address = server?.address()
  if (address === undefined || address === null || typeof address === 'string') return undefined
  return { host: (address as AddressInfo).address, port: (address as AddressInfo).port }
}

/** Stops accepting and drops every connection at once (in-flight requests included). */
export async function closeHttp(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
