// What a command may touch of the terminal; tests pass their own.
import { OpenLedgerError } from '../runtime/errors.ts'

export interface CliIo {
  out(line: string): void
  err(line: string): void
  /** Text as it comes, no newline added (streamed output); absent, commands print whole lines. */
  write?(text: string): void
  /** Prompts for a secret (passphrase); non-interactive runs read OPENLEDGER_PASSPHRASE. */
  secret(prompt: string): Promise<string>
}

/** REFUSED: the node's dry run says the call would fail; nothing was sent */
export type CliErrorCode = 'USAGE' | 'BAD_ARGUMENT' | 'RPC_ERROR' | 'NOT_FOUND' | 'FAILED' | 'REFUSED' | 'LISTEN_FAILED'
export class CliError extends OpenLedgerError<CliErrorCode> {}

/** One command's options text and body; its name and summary live in commands/index.ts. */
export interface Command {
  usage: string
  run(argv: string[], io: CliIo): Promise<number>
}
