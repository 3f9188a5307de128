// Every command of `openledger`, in the order `--help` lists them.
import type { Command } from '../io.ts'

export const commands: Command[] = []
