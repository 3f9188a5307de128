// `npm run bench -- --only attribution`: span attribution (attributionSpans.ts) and data valuation
// of a mislabeled datanet (attributionValuation.ts).
import { benchAttributionSpans } from './attributionSpans.ts'
import { benchAttributionValuation } from './attributionValuation.ts'

export async function benchAttribution(options: { log: (line: string) => void; quick?: boolean }): Promise<void> {
  options.log('  -- data valuation of a mislabeled classifier datanet')
  await benchAttributionValuation(options)
  options.log('  -- span attribution')
  await benchAttributionSpans(options)
}
