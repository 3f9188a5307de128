// `openledger adapters list|pin|unpin`: the adapters a serving endpoint offers and holds resident.
// Pinning loads an adapter and keeps it out of the LRU's reach (the server's admin routes, which
// answer loopback clients only).
import { parseArgs } from 'node:util'
import { CliError, type Command } from '../io.ts'
import { DEFAULT_SERVING_URL } from '../parse.ts'
import { apiFailure, callServer } from './infer.ts'

interface ModelCard { id: string; parent: string | null; created: number }
interface Resident { id: string; rank: number; bytes: number; pinned: boolean }

export const adaptersCommand: Command = {
  usage: [
    'openledger adapters list [--server URL] [--json]      published adapters of the served bases; resident ones with their size',
    'openledger adapters pin BASE:ID [--server URL]        load it now and never evict it',
    'openledger adapters unpin BASE:ID [--server URL]      let the LRU evict it again',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { server: { type: 'string' }, json: { type: 'boolean' } } })
    const server = (values.server ?? DEFAULT_SERVING_URL).replace(/\/+$/, '')
    const [action, model] = positionals
    if (action === 'list') {
      const [models, resident] = await Promise.all([callServer(`${server}/v1/models`), callServer(`${server}/admin/adapters`)])
      if (!models.ok) throw await apiFailure(models)
      if (!resident.ok) throw await apiFailure(resident)
      const cards = ((await models.json()) as { data: ModelCard[] }).data.filter((m) => m.parent !== null)
      const held = new Map(((await resident.json()) as { data: Resident[] }).data.map((r) => [r.id, r]))
      const rows = cards.map((card) => ({ id: card.id, base: card.parent, resident: held.has(card.id), pinned: held.get(card.id)?.pinned ?? false, rank: held.get(card.id)?.rank ?? null, bytes: held.get(card.id)?.bytes ?? null }))
      if (values.json === true) {
        io.out(JSON.stringify(rows))
        return 0
      }
      if (rows.length === 0) io.out('no published adapters on the served bases')
      for (const row of rows) io.out(`${row.id.padEnd(32)} ${row.resident ? `resident${row.pinned ? ', pinned' : ''}, rank ${row.rank}, ${row.bytes} bytes` : 'not resident'}`)
      return 0
    }
    if (action !== 'pin' && action !== 'unpin') throw new CliError('USAGE', 'adapters list|pin|unpin')
    if (model === undefined || !model.includes(':')) throw new CliError('USAGE', `adapters ${action} BASE:ID`)
    const response = await callServer(`${server}/admin/adapters/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model }) })
    if (!response.ok) throw await apiFailure(response)
    io.out(`${model} ${action === 'pin' ? 'pinned' : 'unpinned'}`)
    return 0
  },
}
