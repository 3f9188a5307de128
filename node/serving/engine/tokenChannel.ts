// A request's token stream: the scheduler pushes, one consumer iterates. Unbounded in count but
// bounded by the request's maxTokens; ends with end() or fail(error).
import type { GeneratedToken } from '../types.ts'

export class TokenChannel implements AsyncIterable<GeneratedToken> {
  private readonly buffer: GeneratedToken[] = []
  private waiter: (() => void) | undefined
  private closed = false
  private error: Error | undefined

  push(token: GeneratedToken): void {
    if (this.closed) return
    this.buffer.push(token)
    this.wake()
  }

  end(): void {
    this.closed = true
    this.wake()
  }

  fail(error: Error): void {
    if (this.closed) return
    this.error = error
    this.closed = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GeneratedToken> {
    for (;;) {
      const next = this.buffer.shift()
      if (next !== undefined) { yield next; continue }
      if (this.error !== undefined) throw this.error
      if (this.closed) return
      await new Promise<void>((resolve) => { this.waiter = resolve })
    }
  }
}
