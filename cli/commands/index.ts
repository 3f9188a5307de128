// Every command of `openledger`, in the order `--help` lists them.
import type { Command } from '../io.ts'
import { keysCommand } from './keys.ts'

export const commands: Command[] = [keysCommand]
