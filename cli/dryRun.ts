// Check before charging: every command that sends one call simulates it on the node's head state
// first (openledger_dryRun) and does not send a call that would fail, so a mistake the chain
// would catch costs no fee. `--force` skips the check.
import type { RpcClient } from '../node/rpc/client.ts'
import type { DryRunView } from '../node/rpc/contract.ts'
import { CliError } from './io.ts'

/**
 * Simulates the signed transaction and throws REFUSED, naming the module error (or the reason it
 * is invalid, in `details.error`), when it would not succeed; nothing is sent and no fee paid.
 */
export async function refuseFailing(client: RpcClient, extrinsic: string, what: string): Promise<DryRunView> {
  const outcome = await client.call('openledger_dryRun', [extrinsic])
  if (outcome.status === 'success') return outcome
  const why = outcome.status === 'invalid' ? `would be refused: ${outcome.error ?? 'invalid'}${outcome.message === null ? '' : ` (${outcome.message})`}` : `would fail: ${outcome.error ?? 'unknown error'}`
  throw new CliError('REFUSED', `${what} ${why}; nothing was sent and no fee paid (--force sends it anyway)`, { details: { error: outcome.error } })
}
