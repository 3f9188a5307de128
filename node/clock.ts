// The system clock behind consensus' Clock port (consensus/clock.ts), optionally shifted: the
// test-only `start --clock-offset MS` runs one node as if its machine's clock were wrong.
import type { Clock } from '../consensus/clock.ts'

export function systemClock(offsetMs = 0): Clock {
  return offsetMs === 0 ? { now: () => Date.now() } : { now: () => Date.now() + offsetMs }
}
