// `openledger light`: a light client that trusts only the genesis file. It verifies headers by
// their commit certificates across validator-set changes (skipping with the 1/3 trust rule,
// bisecting when it must) and answers with state proofs against verified headers: balances, a
// contribution's inclusion in a datanet version, what an attribution paid a contributor. A trusted
// block older than the trusting period (2/3 of the unbonding period) is refused (TRUST_EXPIRED):
// --trust HEIGHT:HASH starts from a recent block instead of the genesis. A tampered answer ends
// the command with the light client's error code, never with a number.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { LightClientError } from '../../consensus/lightClient.ts'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { blockTimeMsOf, parseChainSpec } from '../../genesis/spec.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { LightClient, rpcLightSource } from '../../node/light/lightClient.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { CliError, type Command } from '../io.ts'
import { parseAddress, parsePositiveInt, parseRpcUrl } from '../parse.ts'

export const lightCommand: Command = {
  usage: [
    'openledger light --genesis FILE [--rpc URL] [--trust HEIGHT:HASH] [--balance ADDRESS]... [--contribution DATANET:INDEX[@VERSION]]...',
    '                 [--payout RECORD:ADDRESS]... [--height N] [--follow [--interval MS]] [--block-time MS | --trusting-period MS] [--json]',
    '  follows the chain from the genesis FILE (the chain spec), or from the block HEIGHT whose hash you trust, verifying',
    '  every header it uses by its commit certificate; then proves against the verified state root: --balance an account,',
    '  --contribution a contribution\'s inclusion in a datanet version (default the latest), --payout what attribution RECORD',
    '  paid ADDRESS. The trusted block must be younger than the trusting period: 2/3 of the unbonding period at the genesis',
    '  file\'s consensus.blockTimeMs per block (or --block-time MS; default 1000), or --trusting-period. --follow keeps verifying new heads',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        rpc: { type: 'string' }, genesis: { type: 'string' }, trust: { type: 'string' }, balance: { type: 'string', multiple: true }, contribution: { type: 'string', multiple: true },
        payout: { type: 'string', multiple: true }, height: { type: 'string' }, follow: { type: 'boolean' }, interval: { type: 'string' }, 'block-time': { type: 'string' },
        'trusting-period': { type: 'string' }, json: { type: 'boolean' },
      },
    })
    if (values.genesis === undefined) throw new CliError('USAGE', 'light needs --genesis FILE (the chain spec the light client trusts)')
    const text = await readFile(values.genesis, 'utf8').catch((cause: unknown) => {
      throw new CliError('NOT_FOUND', `cannot read genesis ${values.genesis}`, { cause })
    })
    const spec = parseChainSpec(text)
    const genesis = await genesisBlock(spec)
    const addresses = (values.balance ?? []).map((a) => parseAddress(a, '--balance'))
    const target = values.height === undefined ? undefined : parsePositiveInt(values.height, '--height')
    const contributions = (values.contribution ?? []).map(parseContribution)
    const payouts = (values.payout ?? []).map(parsePayout)
    const interval = values.interval === undefined ? 1000 : parsePositiveInt(values.interval, '--interval')
    if (values['block-time'] !== undefined && values['trusting-period'] !== undefined) throw new CliError('USAGE', '--block-time and --trusting-period exclude each other')
    const options = {
      // the chain's target block time, from the genesis file the client trusts anyway (not from the RPC it does not)
      blockTimeMs: values['block-time'] === undefined ? blockTimeMsOf(spec) : parsePositiveInt(values['block-time'], '--block-time'),
      ...(values['trusting-period'] === undefined ? {} : { trustingPeriodMs: parsePositiveInt(values['trusting-period'], '--trusting-period') }),
    }
    const trusted = values.trust === undefined ? undefined : parseTrust(values.trust)
    const source = rpcLightSource(new RpcClient(parseRpcUrl(values.rpc)))
    const report = (value: Record<string, unknown>, line: string) => io.out(values.json === true ? JSON.stringify(value) : line)
    try {
      let client: LightClient
      if (trusted === undefined) {
        client = await LightClient.fromGenesis(genesis, source, options)
        report({ genesis: toHex(genesis.hash), chainId: genesis.header.chainId, trustingPeriodMs: client.trustingPeriodMs }, `trusting genesis ${toHex(genesis.hash)} of chain ${genesis.header.chainId} for ${client.trustingPeriodMs} ms`)
      } else {
        client = await LightClient.fromTrustedBlock(genesis.header.chainId, trusted, source, options)
        report({ trusted: trusted.height, hash: toHex(trusted.hash), chainId: genesis.header.chainId, trustingPeriodMs: client.trustingPeriodMs }, `trusting block ${trusted.height} ${toHex(trusted.hash)} of chain ${genesis.header.chainId} for ${client.trustingPeriodMs} ms`)
      }
      const stop = new AbortController()
      const onSignal = () => stop.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      do {
        const verified = await client.sync(target)
        if (verified.length > 0 || target !== undefined) {
          const { header, hash, validators } = client.trusted
          report({ height: header.height, hash: toHex(hash), verified, validators: validators?.validators.length ?? 0 }, `verified block ${header.height} ${toHex(hash)} (checked heights ${verified.join(', ') || 'none'}; ${validators?.validators.length ?? 0} validators signed)`)
          for (const address of addresses) {
            const account = await client.account(address)
            report({ address: toHex(address), balance: account.free.toString(), nonce: account.nonce, height: account.height }, `${toHex(address)} ${formatOpen(account.free)} OPEN, nonce ${account.nonce} (proven at block ${account.height})`)
          }
          for (const { datanet, index, version } of contributions) {
            const proven = await client.contribution(datanet, index, version)
            if (proven === null) {
              report({ datanet, index, version: version ?? null, included: null }, `contribution ${index} of datanet ${datanet}: the node says it is in no ${version === undefined ? 'published' : `such (${version})`} version (not proven)`)
              continue
            }
            report(
              { datanet, index, included: true, version: proven.version, position: proven.position, root: toHex(proven.root), contributor: toHex(proven.contributor), cid: toHex(proven.cid), size: proven.size, rows: proven.rows, format: proven.format, height: proven.height },
              `contribution ${index} of datanet ${datanet} is in version ${proven.version} at position ${proven.position}: ${toHex(proven.cid)} by ${toHex(proven.contributor)}, ${proven.size} bytes, ${proven.rows} rows (proven at block ${proven.height})`,
            )
          }
          for (const { record, contributor } of payouts) {
            const paid = await client.payout(record, contributor)
            report(
              { record, contributor: toHex(contributor), status: paid.status, amount: paid.amount.toString(), contributions: paid.contributions.map((c) => ({ ...c, amount: c.amount.toString() })), height: paid.height },
              `attribution of record ${record} (${paid.status}) paid ${toHex(contributor)} ${formatOpen(paid.amount)} OPEN for ${paid.contributions.length} contribution(s)${paid.contributions.map((c) => ` ${c.datanet}/${c.index}`).join(',')} (proven at block ${paid.height})`,
            )
          }
        }
        if (values.follow !== true) break
        await sleep(interval, undefined, { signal: stop.signal }).catch(() => {})
      } while (!stop.signal.aborted)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      return 0
    } catch (error) {
      if (error instanceof LightClientError) {
        io.err(`rejected [${error.code}]: ${error.message}`)
        return 1
      }
      throw error
    }
  },
}

/** DATANET:INDEX[@VERSION] */
function parseContribution(text: string): { datanet: number; index: number; version: number | undefined } {
  const match = /^([0-9]{1,10}):([0-9]{1,10})(?:@([0-9]{1,10}))?$/.exec(text)
  if (match === null) throw new CliError('BAD_ARGUMENT', `--contribution must be DATANET:INDEX or DATANET:INDEX@VERSION (got ${text})`)
  return { datanet: Number(match[1]), index: Number(match[2]), version: match[3] === undefined ? undefined : Number(match[3]) }
}

/** RECORD:ADDRESS */
function parsePayout(text: string): { record: number; contributor: Uint8Array } {
  const [record, address] = text.split(':')
  if (record === undefined || address === undefined) throw new CliError('BAD_ARGUMENT', `--payout must be RECORD:ADDRESS (got ${text})`)
  return { record: parsePositiveInt(record, '--payout RECORD'), contributor: parseAddress(address, '--payout ADDRESS') }
}

/** HEIGHT:HASH */
function parseTrust(text: string): { height: number; hash: Uint8Array } {
  const [height, hash] = text.split(':')
  const bytes = hash !== undefined && /^0x[0-9a-fA-F]{64}$/.test(hash) ? fromHex(hash) : undefined
  if (height === undefined || bytes === undefined) throw new CliError('BAD_ARGUMENT', `--trust must be HEIGHT:0xHASH, a block you trust by its 32-byte hash (got ${text})`)
  return { height: parsePositiveInt(height, '--trust HEIGHT'), hash: bytes }
}
