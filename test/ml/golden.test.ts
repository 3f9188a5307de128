// Golden hashes: a tiny fixed job trained for a few steps (test/ml/goldenJob.ts) must end in
// exactly these bytes on every machine. A change that alters them changes the engine's arithmetic:
// that is only allowed together with a deliberate ENGINE_VERSION bump in ml/index.ts (and new
// constants in goldenJob.ts). test/ml/kernelFallback.test.ts runs the same job on the scalar kernel.
import t from 'tap'
import { ENGINE_VERSION } from '../../ml/index.ts'
import { GOLDEN, goldenHashes } from './goldenJob.ts'

t.test('golden hashes of engine ' + ENGINE_VERSION, async (t) => {
  t.same(await goldenHashes(), GOLDEN)
})
