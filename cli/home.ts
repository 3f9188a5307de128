// Where a node keeps its files: --home, else $OPENLEDGER_HOME, else ~/.openledger.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export const HOME_ENV = 'OPENLEDGER_HOME'

export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env[HOME_ENV]
  return chosen === undefined || chosen === '' ? join(homedir(), '.openledger') : resolve(chosen)
}

export function keystoreDir(home: string): string {
  return join(home, 'keystore')
}
