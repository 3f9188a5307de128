// `openledger tx stake …`: the staking module's calls with amounts in OPEN. The module has one
// `bond` for everyone: bonding to your own validator adds self-bond, bonding to someone else's is
// a delegation; `delegate`/`undelegate` are the same calls with the validator required.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { KeystoreError, Keystore, isValidKeyName } from '../../node/keystore/keystore.ts'
import { readValidatorKey } from '../../node/keyFiles.ts'
import { join } from 'node:path'
import { RpcClient } from '../../node/rpc/client.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { BEACON_CHAIN_LENGTH, beaconTip } from '../../runtime/modules/staking/index.ts'
import { keystoreDir } from '../home.ts'
import { CliError, type CliIo } from '../io.ts'
import { parseAddress, parseOpenAmount } from '../parse.ts'
import { common, sendCall, sendOptions } from '../send.ts'

export const STAKE_USAGE = [
  '       openledger tx stake create-validator --from NAME --consensus-key KEY --self-bond OPEN [--commission PERCENT] [common options]',
  '       openledger tx stake bond|unbond --from NAME --amount OPEN [--validator ADDRESS]   (default: the sender\'s own validator)',
  '       openledger tx stake delegate|undelegate --from NAME --validator ADDRESS --amount OPEN [common options]',
  '       openledger tx stake set-commission --from NAME --commission PERCENT [common options]',
  '       openledger tx stake unjail --from NAME [common options]',
  '       openledger tx stake claim-rewards --from NAME [--validator ADDRESS] [common options]',
  '       openledger tx stake set-beacon --from NAME [--consensus-key FILE] [--generation N] [common options]',
  '',
  'KEY is a 0x-prefixed ed25519 public key, a validator key file (validator_key.json of a node home) or the name of a',
  'validator key in the keystore. PERCENT has at most two decimals (10 = 1000 basis points; default 10).',
  'set-beacon registers (or rotates to) the validator\'s randomness beacon hash chain, derived from its consensus key',
  'FILE (default: validator_key.json of --home) at generation N (default: the one after the chain in force, else 0);',
  'it comes into force a few blocks later. create-validator given a key file registers generation 0 itself.',
].join('\n')

const SUBCOMMANDS = ['create-validator', 'bond', 'unbond', 'delegate', 'undelegate', 'set-commission', 'unjail', 'claim-rewards', 'set-beacon'] as const

/** "12.5" (percent) -> 1250 basis points */
export function parseCommission(text: string, flag: string): number {
  const match = /^([0-9]{1,3})(?:\.([0-9]{1,2}))?$/.exec(text)
  const bps = match === null ? NaN : Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'))
  if (!(bps <= 10_000)) throw new CliError('BAD_ARGUMENT', `${flag} must be a percentage from 0 to 100 with at most two decimals`)
  return bps
}

/** The ed25519 public key named by --consensus-key: hex, a key file, or a keystore validator key. */
export async function resolveConsensusKey(text: string, home: string): Promise<string> {
  if (/^0x[0-9a-fA-F]{64}$/.test(text)) return text.toLowerCase()
  const isFile = await readFile(text).then(() => true, () => false)
  if (isFile) return toHex((await readValidatorKey(text)).publicKey)
  if (isValidKeyName(text)) {
    const info = await new Keystore(keystoreDir(home)).inspect(text).catch((error: unknown) => {
      if (error instanceof KeystoreError && error.code === 'KEY_NOT_FOUND') return undefined
      throw error
    })
    if (info !== undefined) {
      if (info.type !== 'validator') throw new CliError('BAD_ARGUMENT', `key '${text}' is an ${info.type} key, not a validator (consensus) key`)
      return toHex(info.publicKey)
    }
  }
  throw new CliError('BAD_ARGUMENT', `--consensus-key must be a 0x-prefixed 32-byte ed25519 public key, a validator key file or a validator key in the keystore; '${text}' is none`)
}

function parseGeneration(text: string): number {
  if (!/^[0-9]{1,9}$/.test(text)) throw new CliError('BAD_ARGUMENT', '--generation must be a whole number')
  return Number(text)
}

/** setBeaconChain's arguments: the tip of BEACON_CHAIN_LENGTH values from the key file's seed `generation` (what the node will reveal). */
async function beaconChainArgs(keyFile: string, generation: number): Promise<{ tip: string; length: number; generation: number }> {
  const { secretKey } = await readValidatorKey(keyFile).catch((cause: unknown) => {
    throw new CliError('BAD_ARGUMENT', `the beacon chain derives from the validator's consensus secret: ${keyFile} is no validator key file`, { cause })
  })
  return { tip: toHex(beaconTip(secretKey, generation, BEACON_CHAIN_LENGTH)), length: BEACON_CHAIN_LENGTH, generation }
}

export async function stakeSubcommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) throw new CliError('USAGE', `tx stake needs one of: ${SUBCOMMANDS.join(', ')}`)
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      ...common,
      validator: { type: 'string' },
      amount: { type: 'string' },
      'consensus-key': { type: 'string' },
      'self-bond': { type: 'string' },
      commission: { type: 'string' },
      generation: { type: 'string' },
    },
  })
  const options = sendOptions(values)
  const need = (value: string | undefined, flag: string): string => {
    if (value === undefined) throw new CliError('USAGE', `tx stake ${sub ?? ''} needs ${flag}`)
    return value
  }
  const amount = () => parseOpenAmount(need(values.amount, '--amount OPEN'), '--amount').toString()
  /** the named validator, or the sender's own */
  const validatorOr = (sender: string): string => (values.validator === undefined ? sender : toHex(parseAddress(values.validator, '--validator')))
  const requiredValidator = () => toHex(parseAddress(need(values.validator, '--validator ADDRESS'), '--validator'))
  switch (sub) {
    case 'create-validator': {
      const consensusKey = await resolveConsensusKey(need(values['consensus-key'], '--consensus-key KEY'), options.home)
      const selfBond = parseOpenAmount(need(values['self-bond'], '--self-bond OPEN'), '--self-bond').toString()
      const commissionBps = parseCommission(values.commission ?? '10', '--commission')
      const created = await sendCall(io, options, 'staking', 'createValidator', { consensusKey, commissionBps, selfBond })
      // with the key file at hand, the new validator's beacon chain too: until one is registered its blocks reveal nothing
      const keyFile = values['consensus-key'] as string
      const isFile = await readFile(keyFile).then(() => true, () => false)
      if (created !== 0 || !isFile) {
        if (created === 0) io.err('the validator reveals nothing to the randomness beacon until it registers a chain: openledger tx stake set-beacon --consensus-key <its validator_key.json>')
        return created
      }
      return sendCall(io, options, 'staking', 'setBeaconChain', await beaconChainArgs(keyFile, 0))
    }
    case 'set-beacon': {
      const keyFile = values['consensus-key'] ?? join(options.home, 'validator_key.json')
      const generation = values.generation === undefined ? undefined : parseGeneration(values.generation)
      return sendCall(io, options, 'staking', 'setBeaconChain', async (sender: string) => {
        const view = await new RpcClient(options.rpc).call('openledger_getValidator', [sender])
        if (view === null) throw new CliError('NOT_FOUND', `${sender} operates no validator`)
        return beaconChainArgs(keyFile, generation ?? (view.beacon === null ? 0 : view.beacon.generation + 1))
      })
    }
    case 'bond':
    case 'unbond': {
      const value = amount()
      return sendCall(io, options, 'staking', sub, (sender: string) => ({ validator: validatorOr(sender), amount: value }))
    }
    case 'delegate':
    case 'undelegate':
      return sendCall(io, options, 'staking', sub === 'delegate' ? 'bond' : 'unbond', { validator: requiredValidator(), amount: amount() })
    case 'set-commission':
      return sendCall(io, options, 'staking', 'setCommission', { commissionBps: parseCommission(need(values.commission, '--commission PERCENT'), '--commission') })
    case 'unjail':
      return sendCall(io, options, 'staking', 'unjail', {})
    case 'claim-rewards':
      return sendCall(io, options, 'staking', 'claimRewards', (sender: string) => ({ validator: validatorOr(sender) }))
    default:
      throw new CliError('USAGE', `tx stake needs one of: ${SUBCOMMANDS.join(', ')}`)
  }
}
