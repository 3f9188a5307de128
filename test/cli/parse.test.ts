import t from 'tap'
import { parseBytes } from '../../cli/parse.ts'

t.test('parseBytes: plain bytes and binary or decimal units; anything else names the flag', async (t) => {
  t.equal(parseBytes('268435456', '--adapter-memory'), 268_435_456)
  t.equal(parseBytes('256MiB', '--adapter-memory'), 256 * 1024 * 1024)
  t.equal(parseBytes('1gib', '--adapter-memory'), 1024 ** 3)
  t.equal(parseBytes('512MB', '--adapter-memory'), 512e6)
  t.equal(parseBytes('1.5k', '--adapter-memory'), 1500)
  for (const bad of ['', '0', '-1', '12XB', 'MiB', '1e9', '99999999999999999TB']) {
    t.throws(() => parseBytes(bad, '--adapter-memory'), { name: 'CliError', code: 'BAD_ARGUMENT', message: /--adapter-memory/ }, `refuses ${JSON.stringify(bad)}`)
  }
})
