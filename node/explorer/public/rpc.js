// @ts-check
// JSON-RPC over the node's WebSocket (the page's own origin): calls, subscriptions, and a
// reconnect that re-subscribes, so the explorer stays live across node restarts. `call` is typed
// by the node's RPC contract (node/rpc/contract.ts; JSDoc, checked by tsconfig.explorer.json: the
// browser loads this file as it is), so a page reading a view reads the fields the node answers.

/** @typedef {import('../../rpc/contract.ts').RpcMethodName} RpcMethodName */
/** @template {RpcMethodName} M @typedef {import('../../rpc/contract.ts').RpcParamsOf<M>} RpcParamsOf */
/** @template {RpcMethodName} M @typedef {import('../../rpc/contract.ts').RpcResult<M>} RpcResult */
export class Rpc {
  #url
  #socket
  #nextId = 1
  #pending = new Map()
  #subscriptions = new Map() // local key -> { method, params, onData, remoteId }
  #byRemote = new Map()
  #opened
  #onStatus
  #connections = 0

  /**
   * @param {string} url
   * @param {(status: string) => void} [onStatus]
   */
  constructor(url, onStatus = () => {}) {
    this.#url = url
    this.#onStatus = onStatus
    this.#connect()
  }

  #connect() {
    this.#onStatus('connecting')
    const socket = new WebSocket(this.#url)
    this.#socket = socket
    this.#opened = new Promise((resolve) => socket.addEventListener('open', () => resolve(undefined), { once: true }))
    socket.addEventListener('open', () => {
      this.#onStatus('live')
      // the first connection serves the subscribe() calls waiting for it; a reconnect renews them all
      if (this.#connections++ > 0) for (const [key, sub] of this.#subscriptions) void this.#resubscribe(key, sub)
    })
    socket.addEventListener('message', (event) => this.#onMessage(event.data))
    socket.addEventListener('close', () => {
      this.#onStatus('disconnected')
      for (const { reject } of this.#pending.values()) reject(new Error('connection closed'))
      this.#pending.clear()
      this.#byRemote.clear()
      for (const sub of this.#subscriptions.values()) sub.remoteId = undefined
      setTimeout(() => this.#connect(), 1000)
    })
  }

  #onMessage(text) {
    let message
    try { message = JSON.parse(text) } catch { return }
    if (message.method !== undefined && message.params?.subscription !== undefined) {
      const key = this.#byRemote.get(message.params.subscription)
      const sub = key === undefined ? undefined : this.#subscriptions.get(key)
      if (sub !== undefined) sub.onData(message.params.result)
      return
    }
    const pending = this.#pending.get(message.id)
    if (pending === undefined) return
    this.#pending.delete(message.id)
    if (message.error !== undefined) pending.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
    else pending.resolve(message.result)
  }

  /**
   * @template {RpcMethodName} M
   * @param {M} method
   * @param {RpcParamsOf<M>} [params]
   * @returns {Promise<RpcResult<M>>}
   */
  async call(method, params) {
    await this.#opened
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: params ?? [] }))
    })
  }

  /**
   * Calls `method` and answers null instead of throwing (a missing thing is not an error for a page).
   * @template {RpcMethodName} M
   * @param {M} method
   * @param {RpcParamsOf<M>} [params]
   * @returns {Promise<RpcResult<M> | null>}
   */
  async tryCall(method, params) {
    try { return await this.call(method, params) } catch { return null }
  }

  /** Subscribes; returns a function that ends it. Re-subscribes after a reconnect. */
  subscribe(method, params, onData, unsubscribeMethod) {
    const key = this.#nextId++
    const sub = { method, params, onData, unsubscribeMethod, remoteId: undefined }
    this.#subscriptions.set(key, sub)
    void this.#resubscribe(key, sub)
    return () => {
      this.#subscriptions.delete(key)
      if (sub.remoteId !== undefined) {
        this.#byRemote.delete(sub.remoteId)
        void this.tryCall(unsubscribeMethod, [sub.remoteId])
      }
    }
  }

  async #resubscribe(key, sub) {
    try {
      const id = await this.call(sub.method, sub.params)
      if (!this.#subscriptions.has(key)) return void this.tryCall(sub.unsubscribeMethod, [id])
      sub.remoteId = id
      this.#byRemote.set(id, key)
    } catch { /* reconnect retries */ }
  }
}
