// Every runtime module has the one shape of ARCHITECTURE.md ("runtime/modules/"): the same files
// (calls.ts where it has calls), and a genesis that genesis/build.ts hands its part of the spec.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createRuntime } from '../../runtime/index.ts'

const MODULES = fileURLToPath(new URL('../../runtime/modules', import.meta.url))
const FILES = ['state.ts', 'errors.ts', 'events.ts', 'genesis.ts', 'index.ts']

t.test('every module folder has the same files and every module its genesis', async (t) => {
  const folders = readdirSync(MODULES).filter((name) => statSync(join(MODULES, name)).isDirectory())
  const modules = createRuntime().modules
  t.same(folders.toSorted(), modules.map((m) => m.name).toSorted(), 'one folder per module of the runtime')
  for (const module of modules) {
    const missing = FILES.filter((file) => !existsSync(join(MODULES, module.name, file)))
    if (module.calls.length > 0 && !existsSync(join(MODULES, module.name, 'calls.ts'))) missing.push('calls.ts')
    t.same(missing, [], `${module.name}: ${FILES.join(', ')}${module.calls.length > 0 ? ', calls.ts' : ''}`)
    t.ok(module.genesis !== undefined, `${module.name}: a genesis`)
  }
})
