// `openledger light`: a light client that trusts only the genesis file. It verifies headers by
// their commit certificates across validator-set changes (skipping with the 1/3 trust rule,
// bisecting when it must) and answers balances with state proofs against verified headers. A
// tampered answer ends the command with the light client's error code, never with a number.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { LightClientError } from '../../consensus/lightClient.ts'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { parseChainSpec } from '../../genesis/spec.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { LightClient, rpcLightSource } from '../../node/light/lightClient.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { CliError, type Command } from '../io.ts'
import { parseAddress, parsePositiveInt, parseRpcUrl } from '../parse.ts'

export const lightCommand: Command = {
  usage: [
    'openledger light --genesis FILE [--rpc URL] [--balance ADDRESS]... [--height N] [--follow [--interval MS]] [--json]',
    '  follows the chain from the genesis FILE (the chain spec), verifying every header it uses by its commit',
    '  certificate; --balance proves an account against the verified state root; --follow keeps verifying new heads',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { rpc: { type: 'string' }, genesis: { type: 'string' }, balance: { type: 'string', multiple: true }, height: { type: 'string' }, follow: { type: 'boolean' }, interval: { type: 'string' }, json: { type: 'boolean' } },
    })
    if (values.genesis === undefined) throw new CliError('USAGE', 'light needs --genesis FILE (the chain spec the light client trusts)')
    const text = await readFile(values.genesis, 'utf8').catch((cause: unknown) => {
      throw new CliError('NOT_FOUND', `cannot read genesis ${values.genesis}`, { cause })
    })
    const genesis = await genesisBlock(parseChainSpec(text))
    const addresses = (values.balance ?? []).map((a) => parseAddress(a, '--balance'))
    const target = values.height === undefined ? undefined : parsePositiveInt(values.height, '--height')
    const interval = values.interval === undefined ? 1000 : parsePositiveInt(values.interval, '--interval')
    const client = await LightClient.fromGenesis(genesis, rpcLightSource(new RpcClient(parseRpcUrl(values.rpc))))
    const report = (value: Record<string, unknown>, line: string) => io.out(values.json === true ? JSON.stringify(value) : line)
    report({ genesis: toHex(genesis.hash), chainId: genesis.header.chainId }, `trusting genesis ${toHex(genesis.hash)} of chain ${genesis.header.chainId}`)
    try {
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
