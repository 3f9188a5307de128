// Every command of `openledger`, in the order `--help` lists them.
import type { Command } from '../io.ts'
import { benchCommand } from './bench.ts'
import { datanetCommand } from './datanet.ts'
import { devCommand } from './dev.ts'
import { genesisCommand } from './genesis.ts'
import { keysCommand } from './keys.ts'
import { modelCommand } from './model.ts'
import { queryCommand } from './query.ts'
import { startCommand } from './start.ts'
import { testnetCommand } from './testnet.ts'
import { txCommand } from './tx.ts'

export const commands: Command[] = [devCommand, startCommand, testnetCommand, txCommand, datanetCommand, modelCommand, queryCommand, keysCommand, genesisCommand, benchCommand]
