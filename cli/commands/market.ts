// `openledger provider …`, `openledger channel …` and `openledger apikey …`: the inference market's calls with amounts in
// OPEN and models by name, and its reads (openledger_getProvider, openledger_getChannel).
import { parseArgs } from 'node:util'
import { toHex } from '../../runtime/crypto/hash.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { parseAddress, parseOpenAmount, parsePositiveInt, parseRpcUrl } from '../parse.ts'
import { common, sendCall, sendCallForReceipt, sendOptions } from '../send.ts'
import { eventData } from '../txBatch.ts'
import { apiKeyHash, newApiKey } from '../../node/market/keyGate.ts'

/** Base model ids from names or ids, comma-separated ("ol-lm-sotu-2m,3"). */
export async function resolveBaseModels(rpc: string, text: string, flag: string): Promise<number[]> {
  const wanted = text.split(',').map((part) => part.trim()).filter((part) => part.length > 0)
  if (wanted.length === 0) throw new CliError('BAD_ARGUMENT', `${flag} needs at least one base model (name or id)`)
  let bases: Array<{ id: number; name: string }> | undefined
  const ids: number[] = []
  for (const part of wanted) {
    if (/^[0-9]{1,9}$/.test(part)) {
      ids.push(Number(part))
      continue
    }
    bases ??= await new RpcClient(rpc).call('openledger_listBaseModels')
    const found = bases.find((b) => b.name === part)
    if (found === undefined) throw new CliError('NOT_FOUND', `${flag}: no base model named '${part}' (registered: ${bases.map((b) => b.name).join(', ')})`)
    ids.push(found.id)
  }
  return ids
}

function need(value: string | undefined, what: string): string {
  if (value === undefined) throw new CliError('USAGE', `needs ${what}`)
  return value
}

export const PROVIDER_USAGE = [
  'openledger provider register --from NAME --stake OPEN --price-in OPEN --price-out OPEN --models M[,M…] --endpoint URL [--capacity N] [common options]',
  'openledger provider update --from NAME [--add-stake OPEN] [--price-in OPEN] [--price-out OPEN] [--models M,…] [--endpoint URL] [--capacity N]',
  'openledger provider unbond --from NAME --amount OPEN        (released after the unbonding delay; slashable until then)',
  'openledger provider withdraw --from NAME                    (pays out what finished unbonding)',
  'openledger provider status ADDRESS [--rpc URL]',
  'openledger provider settle --rpc URL                        (the provider node redeems its accepted channel vouchers now;',
  '                                                             its RPC must serve unsafe methods: --rpc-methods unsafe)',
  '',
  'Prices are OPEN per 1,000 tokens. Models are base model names or ids; every published adapter of each is served.',
  'The provider node answers requests with `openledger start|dev --serve --provider` signed by its operator key.',
].join('\n')

export const providerCommand: Command = {
  usage: PROVIDER_USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv
    const { values, positionals } = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: {
        ...common, stake: { type: 'string' }, 'add-stake': { type: 'string' }, 'price-in': { type: 'string' }, 'price-out': { type: 'string' }, models: { type: 'string' },
        endpoint: { type: 'string' }, capacity: { type: 'string' }, amount: { type: 'string' },
      },
    })
    const rpc = parseRpcUrl(values.rpc)
    if (sub === 'status') {
      const address = toHex(parseAddress(need(positionals[0], 'the provider\'s ADDRESS'), 'ADDRESS'))
      const provider = await new RpcClient(rpc).call('openledger_getProvider', [address])
      if (provider === null) throw new CliError('NOT_FOUND', `${address} is not a provider`)
      io.out(JSON.stringify(provider, null, 2))
      return 0
    }
    if (sub === 'settle') {
      const result = await new RpcClient(rpc).call('openledger_settleVouchers', [])
      io.out(JSON.stringify(result, null, 2))
      if (result.channels > 0 && !result.finalized) {
        io.err('the redeem was not finalized: the vouchers are kept for the next settlement')
        return 1
      }
      return 0
    }
    const options = sendOptions(values)
    switch (sub) {
      case 'register': {
        const args = {
          bond: parseOpenAmount(need(values.stake, '--stake OPEN'), '--stake').toString(),
          endpoint: need(values.endpoint, '--endpoint URL'),
          priceIn: parseOpenAmount(need(values['price-in'], '--price-in OPEN'), '--price-in').toString(),
          priceOut: parseOpenAmount(need(values['price-out'], '--price-out OPEN'), '--price-out').toString(),
          models: await resolveBaseModels(rpc, need(values.models, '--models M[,M…]'), '--models'),
          capacity: values.capacity === undefined ? 16 : parsePositiveInt(values.capacity, '--capacity'),
        }
        return sendCall(io, options, 'inference', 'registerProvider', args)
      }
      case 'update': {
        const fixed = {
          addBond: values['add-stake'] === undefined ? '0' : parseOpenAmount(values['add-stake'], '--add-stake').toString(),
          endpoint: values.endpoint,
          priceIn: values['price-in'] === undefined ? undefined : parseOpenAmount(values['price-in'], '--price-in').toString(),
          priceOut: values['price-out'] === undefined ? undefined : parseOpenAmount(values['price-out'], '--price-out').toString(),
          models: values.models === undefined ? undefined : await resolveBaseModels(rpc, values.models, '--models'),
          capacity: values.capacity === undefined ? undefined : parsePositiveInt(values.capacity, '--capacity'),
        }
        // what is not given stays as registered
        const client = new RpcClient(rpc)
        return sendCall(io, options, 'inference', 'updateProvider', async (sender: string) => {
          const current = await client.call('openledger_getProvider', [sender])
          if (current === null) throw new CliError('NOT_FOUND', `${sender} is not a provider: register first`)
          return {
            addBond: fixed.addBond, endpoint: fixed.endpoint ?? current.endpoint, priceIn: fixed.priceIn ?? current.priceIn, priceOut: fixed.priceOut ?? current.priceOut,
            models: fixed.models ?? current.models, capacity: fixed.capacity ?? current.capacity,
          }
        })
      }
      case 'unbond':
        return sendCall(io, options, 'inference', 'unbondProvider', { amount: parseOpenAmount(need(values.amount, '--amount OPEN'), '--amount').toString() })
      case 'withdraw':
        return sendCall(io, options, 'inference', 'withdrawUnbonded', {})
      default:
        throw new CliError('USAGE', 'provider needs one of: register, update, unbond, withdraw, status, settle')
    }
  },
}

export const CHANNEL_USAGE = [
  'openledger channel open --from NAME --provider ADDRESS --deposit OPEN [common options]',
  'openledger channel topup --from NAME --channel ID --amount OPEN',
  'openledger channel close --from NAME --channel ID      (the user: the provider may redeem during the challenge period; the provider: at once)',
  'openledger channel status ID [--rpc URL]',
].join('\n')

export const channelCommand: Command = {
  usage: CHANNEL_USAGE,
  async run(argv, io: CliIo) {
    const [sub, ...rest] = argv
    const { values, positionals } = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: { ...common, provider: { type: 'string' }, deposit: { type: 'string' }, channel: { type: 'string' }, amount: { type: 'string' } },
    })
    if (sub === 'status') {
      const id = parsePositiveInt(need(positionals[0], 'the channel ID'), 'ID')
      const channel = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_getChannel', [id])
      if (channel === null) throw new CliError('NOT_FOUND', `no channel ${id}`)
      io.out(JSON.stringify(channel, null, 2))
      return 0
    }
    const options = sendOptions(values)
    const channel = () => parsePositiveInt(need(values.channel, '--channel ID'), '--channel')
    switch (sub) {
      case 'open':
        return sendCall(io, options, 'inference', 'openChannel', {
          provider: toHex(parseAddress(need(values.provider, '--provider ADDRESS'), '--provider')), deposit: parseOpenAmount(need(values.deposit, '--deposit OPEN'), '--deposit').toString(),
        })
      case 'topup':
        return sendCall(io, options, 'inference', 'topUpChannel', { channel: channel(), amount: parseOpenAmount(need(values.amount, '--amount OPEN'), '--amount').toString() })
      case 'close':
        return sendCall(io, options, 'inference', 'closeChannel', { channel: channel() })
      default:
        throw new CliError('USAGE', 'channel needs one of: open, topup, close, status')
    }
  },
}

export const APIKEY_USAGE = [
  'openledger apikey create --from NAME --provider ADDRESS --cap OPEN [--expires-at HEIGHT]',
  '                          prints the new key (olk_…) once: only its hash goes on chain; the cap is escrowed',
  'openledger apikey revoke --from NAME --key ID   (the provider stops serving it; the rest of the cap comes back after the challenge period)',
  'openledger apikey status ID [--rpc URL]',
  '',
  'An OpenAI client uses the key as its API key against the provider\'s endpoint (base URL <endpoint>/v1);',
  'the provider charges what it served, never more than the cap in all.',
].join('\n')

export const apikeyCommand: Command = {
  usage: APIKEY_USAGE,
  async run(argv, io: CliIo) {
    const [sub, ...rest] = argv
    const { values, positionals } = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: { ...common, provider: { type: 'string' }, cap: { type: 'string' }, 'expires-at': { type: 'string' }, key: { type: 'string' } },
    })
    if (sub === 'status') {
      const id = parsePositiveInt(need(positionals[0], 'the key ID'), 'ID')
      const key = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_getApiKey', [id])
      if (key === null) throw new CliError('NOT_FOUND', `no API key ${id}`)
      io.out(JSON.stringify(key, null, 2))
      return 0
    }
    const options = sendOptions(values)
    switch (sub) {
      case 'create': {
        const secret = newApiKey()
        const { receipt } = await sendCallForReceipt(io, options, 'inference', 'createApiKey', {
          provider: toHex(parseAddress(need(values.provider, '--provider ADDRESS'), '--provider')), keyHash: toHex(apiKeyHash(secret)),
          cap: parseOpenAmount(need(values.cap, '--cap OPEN'), '--cap').toString(),
          expiresAt: values['expires-at'] === undefined ? 0 : parsePositiveInt(values['expires-at'], '--expires-at'),
        })
        if (receipt !== null && receipt.status !== 'success') return 1
        const id = receipt === null ? undefined : eventData(receipt, 'inference', 'ApiKeyCreated')?.['key']
        io.out(JSON.stringify({ key: secret, ...(id === undefined ? {} : { id }) }, null, 2))
        return 0
      }
      case 'revoke':
        return sendCall(io, options, 'inference', 'revokeApiKey', { key: parsePositiveInt(need(values.key, '--key ID'), '--key') })
      default:
        throw new CliError('USAGE', 'apikey needs one of: create, revoke, status')
    }
  },
}
