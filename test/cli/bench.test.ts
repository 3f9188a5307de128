// `openledger bench`: listed in the help, and runs the benchmark program, passing its options on.
import t from 'tap'
import { runCli } from '../e2e/harness.ts'

t.test('openledger bench runs the benchmarks it is asked for', async (t) => {
  const help = await runCli(['--help'])
  t.match(help.stdout, /bench\s+Run the benchmarks/)
  const run = await runCli(['bench', '--quick', '--only', 'signatures'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /openledger benchmarks \(quick\)/)
  t.match(run.stdout, /secp256k1 recover, libsecp256k1 \(native\)\s+[\d,]+ \/s/, 'prints the signature figures')
  t.notMatch(run.stdout, /== state transition/, '--only picks the parts')
})
