// The clock port: the only way wall-clock time enters consensus and block building. A block's time
// and a proposal's receive time are read from it, so tests (and `start --clock-offset`) shift one
// node's clock without touching the system's. Elapsed-time budgets (timeouts, build deadlines) use
// the monotonic performance.now(), which no clock setting moves.
export interface Clock {
  /** ms since the Unix epoch, as this node believes it */
  now(): number
}
