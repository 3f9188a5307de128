// `openledger datanet`: datasets on chain. create, contribute FILE, review, accept, reject,
// withdraw, publish, show, list, download, prove, seed (real corpora: see datanetSeed.ts).
import { readFile, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { bytesEqual, decode } from '../../runtime/codec/canonical.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { checkRows, Format, FormatError, formatForFileName, type FormatName, parseRows, verifyInclusionProof, versionKind } from '../../runtime/modules/datanets/index.ts'
import { decodeStateProof, verifyStateProof } from '../../runtime/state/proof.ts'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { contentId } from '../../node/blobs/contentId.ts'
import { downloadBlob, uploadBlob } from '../../node/blobs/blobClient.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import type { ContributionProofView } from '../../node/rpc/contract.ts'
import { resolveHome } from '../home.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { parseAddress, parseOpenAmount, parsePositiveInt, parseRpcUrl } from '../parse.ts'
import { resolveAccountSigner } from '../signer.ts'
import { TxBatch, type BatchReceipt } from '../txBatch.ts'
import { seedDatanet } from './datanetSeed.ts'

const runtime = createRuntime()

const common = { rpc: { type: 'string' }, home: { type: 'string' }, json: { type: 'boolean' } } as const
const sending = { ...common, from: { type: 'string' }, force: { type: 'boolean' } } as const
const target = { datanet: { type: 'string' }, contribution: { type: 'string' } } as const

interface Common {
  rpc?: string | undefined
  home?: string | undefined
  json?: boolean | undefined
  from?: string | undefined
  force?: boolean | undefined
}

function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new CliError('USAGE', `${flag} is required`)
  return value
}

function formatCode(name: string): number {
  if (!Object.hasOwn(Format, name)) throw new CliError('BAD_ARGUMENT', `unknown format '${name}'; formats: ${Object.keys(Format).join(', ')}`)
  return Format[name as FormatName]
}

/** Signs, submits and waits for one datanets call; prints the outcome; returns the receipt. */
async function send(io: CliIo, values: Common, callName: string, args: unknown): Promise<BatchReceipt> {
  const signer = await resolveAccountSigner(need(values.from, '--from'), resolveHome(values.home), io)
  const client = new RpcClient(parseRpcUrl(values.rpc))
  const batch = new TxBatch(client, runtime)
  const hash = await batch.submit(signer, 'datanets', callName, args, { check: values.force !== true })
  const [receipt] = await batch.wait([hash], { allowFailures: true })
  if (receipt === undefined) throw new CliError('FAILED', 'no receipt')
  if (values.json === true) io.out(JSON.stringify({ hash, ...receipt }))
  else {
    io.out(`transaction ${hash}`)
    io.out(`  from     ${toHex(signer.address)} (${signer.label})`)
    io.out(`  status   ${receipt.status}${receipt.error === null ? '' : ` (${receipt.error})`}`)
    for (const event of receipt.events.filter((e) => e.module === 'datanets')) io.out(`  event    ${event.event} ${JSON.stringify(event.data)}`)
  }
  return receipt
}

const exitOf = (receipt: BatchReceipt): number => (receipt.status === 'success' ? 0 : 1)

async function contribute(io: CliIo, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { ...sending, datanet: { type: 'string' }, format: { type: 'string' }, labelled: { type: 'boolean' }, metadata: { type: 'string' } },
  })
  const file = need(positionals[0], 'FILE')
  const datanet = parsePositiveInt(need(values.datanet, '--datanet'), '--datanet')
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(file))
  } catch (cause) {
    throw new CliError('NOT_FOUND', `cannot read ${file}`, { cause })
  }
  const format = values.format !== undefined ? formatCode(values.format) : formatForFileName(file, values.labelled === true || looksLabelled(bytes))
  if (format === undefined) throw new CliError('BAD_ARGUMENT', `cannot tell the format of ${basename(file)}: use --format ${Object.keys(Format).join('|')}`)
  let rows: number
  try {
    rows = parseRows(bytes, format).length
  } catch (error) {
    if (error instanceof FormatError) throw new CliError('BAD_ARGUMENT', `${basename(file)}: ${error.code}: ${error.message}`, { cause: error })
    throw error
  }
  const client = new RpcClient(parseRpcUrl(values.rpc))
  const uploaded = await uploadBlob(client, bytes, { format, rows })
  io.out(`uploaded ${basename(file)}: ${uploaded.size} bytes, ${rows} rows, content id ${uploaded.cid}`)
  const metadata = values.metadata ?? JSON.stringify({ file: basename(file) })
  const receipt = await send(io, values, 'contribute', { datanet, cid: uploaded.cid, size: bytes.length, rows, format, metadata })
  return exitOf(receipt)
}

/** A JSONL file every row of which has a label is `labelled`, unless --format says otherwise. */
function looksLabelled(bytes: Uint8Array): boolean {
  try {
    parseRows(bytes, Format.labelled)
    return true
  } catch {
    return false
  }
}

async function review(io: CliIo, values: Common & { datanet?: string | undefined; contribution?: string | undefined; out?: string | undefined; sample?: string | undefined }): Promise<number> {
  const client = new RpcClient(parseRpcUrl(values.rpc))
  const datanet = parsePositiveInt(need(values.datanet, '--datanet'), '--datanet')
  const index = parsePositiveInt(need(values.contribution, '--contribution'), '--contribution', 0)
  const record = await client.call('openledger_getContribution', [datanet, index])
  if (record === null) throw new CliError('NOT_FOUND', `datanet ${datanet} has no contribution ${index}`)
  const bytes = await downloadBlob(client, record.cid)
  const problems: string[] = []
  if (bytes.length !== record.size) problems.push(`size ${bytes.length} != declared ${record.size}`)
  let rows: Array<{ text: string; label?: string | number }> = []
  try {
    rows = checkRows(bytes, typeof record.format === 'number' ? record.format : Format[record.format], record.rows)
  } catch (error) {
    if (!(error instanceof FormatError)) throw error
    problems.push(`${error.code}: ${error.message}`)
  }
  if (values.out !== undefined) await writeFile(values.out, bytes)
  if (values.json === true) {
    io.out(JSON.stringify({ ...record, verified: true, problems, labels: labelCounts(rows) }))
    return problems.length === 0 ? 0 : 1
  }
  io.out(`contribution ${datanet}/${index} by ${record.contributor}: ${record.status}`)
  io.out(`  content  ${record.cid} (${bytes.length} bytes, every chunk verified)`)
  io.out(`  format   ${record.format}, ${rows.length} rows (declared ${record.rows})`)
  io.out(`  deposit  ${formatOpen(BigInt(record.deposit))} OPEN`)
  io.out(`  metadata ${record.metadata}`)
  const labels = labelCounts(rows)
  if (Object.keys(labels).length > 0) io.out(`  labels   ${JSON.stringify(labels)}`)
  for (const row of rows.slice(0, parsePositiveInt(values.sample ?? '3', '--sample', 0))) io.out(`  row      ${JSON.stringify(row.text.slice(0, 100))}${row.label === undefined ? '' : ` → ${String(row.label)}`}`)
  io.out(problems.length === 0 ? '  check    ok' : `  problems ${problems.join('; ')}`)
  return problems.length === 0 ? 0 : 1
}

function labelCounts(rows: ReadonlyArray<{ label?: string | number }>): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const row of rows) if (row.label !== undefined) counts[String(row.label)] = (counts[String(row.label)] ?? 0) + 1
  return counts
}

/** Checks a contribution's inclusion in a version, and the version against a finalized state root. */
export async function proveContribution(client: RpcClient, datanet: number, index: number, version?: number): Promise<{ proof: ContributionProofView; finalizedHeight: number; stateRoot: string; inclusion: boolean; stateProof: boolean }> {
  const proof = await client.call('openledger_getContributionProof', [datanet, index, version ?? null])
  const inclusion = verifyInclusionProof(fromHex(proof.root) ?? new Uint8Array(0), fromHex(proof.leaf) ?? new Uint8Array(0), proof.position, proof.siblings.map((s) => fromHex(s) ?? new Uint8Array(0)))
  const finalized = await client.call('chain_getFinalizedHead')
  const read = await client.call('state_getReadProof', [[proof.versionStateKey], finalized])
  const entry = read.proofs[0]
  let stateProof = false
  if (entry?.value != null) {
    const value = fromHex(entry.value) ?? new Uint8Array(0)
    const record = versionKind.decode(decode(value), 'version')
    stateProof = bytesEqual(record.root, fromHex(proof.root) ?? new Uint8Array(0))
      && verifyStateProof(fromHex(read.stateRoot) ?? new Uint8Array(0), fromHex(proof.versionStateKey) ?? new Uint8Array(0), value, decodeStateProof(fromHex(entry.proof) ?? new Uint8Array(0)))
  }
  return { proof, finalizedHeight: read.number, stateRoot: read.stateRoot, inclusion, stateProof }
}

export const datanetCommand: Command = {
  usage: [
    'openledger datanet create --from NAME --name NAME [--description TEXT] [--tags a,b] [--licence SPDX] [--private]',
    '                          [--deposit OPEN] [--fee-per-byte BASE_UNITS] [--formats text,markdown,documents,labelled]',
    '                          [--max-bytes N] [--curators 0x…,0x…]',
    '       openledger datanet contribute FILE --datanet ID --from NAME [--format F | --labelled] [--metadata TEXT]',
    '       openledger datanet review --datanet ID --contribution N [--out FILE] [--sample N]',
    '       openledger datanet accept|withdraw --datanet ID --contribution N --from NAME',
    '       openledger datanet reject --datanet ID --contribution N --from NAME [--reason TEXT]',
    '       openledger datanet publish --datanet ID --from NAME [--note TEXT]',
    '       openledger datanet show ID | list | contributions ID',
    '       openledger datanet download --datanet ID --contribution N --out FILE',
    '       openledger datanet prove --datanet ID --contribution N [--version V]',
    '       openledger datanet seed --corpus sotu|moby|spam [--from NAME] [--contributors N] [--limit N] [--force]',
    '',
    'Common options: --rpc URL (default http://127.0.0.1:9944), --home DIR (keystore), --json.',
    'A call is simulated on the node before it is sent: one the chain would fail (an unknown contribution, a format',
    'the datanet does not accept, too little balance) is refused here at no fee; --force sends it anyway.',
    'Formats: text (.txt), markdown (.md), documents (.jsonl with "text"), labelled (.jsonl with "text" and "label").',
    'seed creates, funds, contributes, accepts and publishes a datanet from a corpus shipped with the install:',
    'sotu (State of the Union addresses, documents), moby (Moby Dick by chapter, documents), spam (SpamAssassin',
    'e-mails, labelled); --limit N takes the first N documents (quick runs); it prints the new datanet\'s id.',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    const client = (values: Common) => new RpcClient(parseRpcUrl(values.rpc))
    const print = (value: unknown) => io.out(JSON.stringify(value, null, 2))
    switch (sub) {
      case 'create': {
        const { values } = parseArgs({
          args: rest, strict: true,
          options: {
            ...sending, name: { type: 'string' }, description: { type: 'string' }, tags: { type: 'string' }, licence: { type: 'string' }, private: { type: 'boolean' },
            deposit: { type: 'string' }, 'fee-per-byte': { type: 'string' }, formats: { type: 'string' }, 'max-bytes': { type: 'string' }, curators: { type: 'string' },
          },
        })
        const list = (text: string | undefined) => (text === undefined || text === '' ? [] : text.split(',').map((s) => s.trim()))
        const receipt = await send(io, values, 'create', {
          name: need(values.name, '--name'),
          description: values.description ?? '',
          tags: list(values.tags),
          licence: values.licence ?? '',
          visibility: values.private === true ? 1 : 0,
          rules: {
            deposit: (values.deposit === undefined ? 0n : parseOpenAmount(values.deposit, '--deposit')).toString(),
            feePerByte: values['fee-per-byte'] ?? '0',
            formats: list(values.formats ?? 'text,markdown,documents,labelled').map(formatCode),
            maxBytes: parsePositiveInt(values['max-bytes'] ?? String(64 * 1024 * 1024), '--max-bytes'),
          },
          curators: list(values.curators).map((c) => toHex(parseAddress(c, '--curators'))),
        })
        return exitOf(receipt)
      }
      case 'contribute':
        return contribute(io, rest)
      case 'review': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...common, ...target, out: { type: 'string' }, sample: { type: 'string' } } })
        return review(io, values)
      }
      case 'accept':
      case 'withdraw':
      case 'reject': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...sending, ...target, reason: { type: 'string' } } })
        const args = { datanet: parsePositiveInt(need(values.datanet, '--datanet'), '--datanet'), contribution: parsePositiveInt(need(values.contribution, '--contribution'), '--contribution', 0) }
        const receipt = await send(io, values, sub, sub === 'reject' ? { ...args, reason: values.reason ?? '' } : args)
        return exitOf(receipt)
      }
      case 'publish': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...sending, datanet: { type: 'string' }, note: { type: 'string' } } })
        return exitOf(await send(io, values, 'publishVersion', { datanet: parsePositiveInt(need(values.datanet, '--datanet'), '--datanet'), note: values.note ?? '' }))
      }
      case 'show': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: common })
        const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
        const datanet = await client(values).call('openledger_getDatanet', [id])
        if (datanet === null) throw new CliError('NOT_FOUND', `no datanet ${id}`)
        const version = await client(values).call('openledger_getDatanetVersion', [id])
        print({ ...(datanet as object), latestVersion: version })
        return 0
      }
      case 'list': {
        const { values } = parseArgs({ args: rest, strict: true, options: common })
        const all = await client(values).call('openledger_listDatanets')
        if (values.json === true) print(all)
        else for (const d of all) io.out(`#${d.id} ${d.name}  owner ${d.owner}  ${d.live} accepted contributions, ${d.versions} versions`)
        return 0
      }
      case 'contributions': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: common })
        const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
        const all = await client(values).call('openledger_listContributions', [id])
        if (values.json === true) print(all)
        else for (const c of all) io.out(`${c.datanet}/${c.index} ${String(c.status).padEnd(9)} ${c.contributor} ${c.size} bytes ${c.rows} rows ${c.format} ${c.cid}`)
        return 0
      }
      case 'download': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...common, ...target, out: { type: 'string' } } })
        const c = client(values)
        const record = await c.call('openledger_getContribution', [parsePositiveInt(need(values.datanet, '--datanet'), '--datanet'), parsePositiveInt(need(values.contribution, '--contribution'), '--contribution', 0)])
        if (record === null) throw new CliError('NOT_FOUND', 'no such contribution')
        const bytes = await downloadBlob(c, record.cid)
        if (!bytesEqual(contentId(bytes), fromHex(record.cid) ?? new Uint8Array(0))) throw new CliError('FAILED', 'downloaded bytes do not match the content id')
        await writeFile(need(values.out, '--out'), bytes)
        io.out(`wrote ${bytes.length} bytes to ${values.out} (content id ${record.cid} verified)`)
        return 0
      }
      case 'prove': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...common, ...target, version: { type: 'string' } } })
        const result = await proveContribution(
          client(values),
          parsePositiveInt(need(values.datanet, '--datanet'), '--datanet'),
          parsePositiveInt(need(values.contribution, '--contribution'), '--contribution', 0),
          values.version === undefined ? undefined : parsePositiveInt(values.version, '--version'),
        )
        if (values.json === true) print(result)
        else {
          io.out(`version ${result.proof.version} root ${result.proof.root}`)
          io.out(`  inclusion  position ${result.proof.position}, ${result.proof.siblings.length} siblings: ${result.inclusion ? 'verified' : 'INVALID'}`)
          io.out(`  state      version record at finalized #${result.finalizedHeight} (state root ${result.stateRoot}): ${result.stateProof ? 'verified' : 'INVALID'}`)
        }
        return result.inclusion && result.stateProof ? 0 : 1
      }
      case 'seed': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...sending, corpus: { type: 'string' }, contributors: { type: 'string' }, limit: { type: 'string' } } })
        const corpus = need(values.corpus, '--corpus')
        if (corpus !== 'sotu' && corpus !== 'moby' && corpus !== 'spam') throw new CliError('BAD_ARGUMENT', '--corpus must be sotu, moby or spam')
        const signer = await resolveAccountSigner(values.from ?? 'bob', resolveHome(values.home), io)
        await seedDatanet(io, client(values), runtime, signer, {
          corpus,
          contributors: parsePositiveInt(values.contributors ?? '5', '--contributors'),
          ...(values.limit === undefined ? {} : { limit: parsePositiveInt(values.limit, '--limit') }),
          check: values.force !== true,
        })
        return 0
      }
      default:
        throw new CliError('USAGE', `unknown datanet subcommand '${sub ?? ''}'`)
    }
  },
}
