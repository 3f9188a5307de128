// `openledger model`: ModelFactory from the command line, one file per subcommand.
//
//   register   upload a base model's weights (and ONNX export) and register it        register.ts
//   train      pay for a LoRA training job on datanet versions (--wait: to publication) train.ts
//   status     a job's state, assignment, result and attestations (--watch)            status.ts
//   list       base models, published model versions (--jobs: training jobs)           list.ts
//   show       a published model version with its full lineage                         show.ts
//   download   an adapter (checked against its on-chain weights hash) and its lineage  download.ts
//   evaluate   re-runs the held-out evaluation locally and prints the margin            evaluate.ts
import { CliError, type CliIo, type Command } from '../../io.ts'
import { downloadModel } from './download.ts'
import { evaluateModel } from './evaluate.ts'
import { listModels } from './list.ts'
import { registerModel } from './register.ts'
import { showModel } from './show.ts'
import { jobStatus } from './status.ts'
import { trainModel } from './train.ts'

const SUBCOMMANDS: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  list: listModels,
  show: showModel,
  train: trainModel,
  status: jobStatus,
  download: downloadModel,
  evaluate: evaluateModel,
  register: registerModel,
}

export const modelCommand: Command = {
  usage: [
    'openledger model list [--jobs] [--owner ADDRESS] [--rpc URL] [--json]',
    '       openledger model show ID [--base] [--rpc URL] [--json]',
    '       openledger model train --from NAME --base ID --datanet ID[:VERSION]... [--rank 8] [--alpha 16] [--steps 60] [--batch 8]',
    '                              [--length 64] [--lr 0.002] [--seed 1] [--checkpoint-every STEPS/6] [--fee OPEN] [--wait] [--timeout S] [--force]',
    '       openledger model status JOB [--watch] [--timeout S] [--rpc URL] [--json]',
    '       openledger model download ID --out DIR [--rpc URL]',
    '       openledger model evaluate ID [--rpc URL] [--json]',
    '       openledger model register --from NAME --name NAME --config FILE --weights FILE [--onnx FILE] [--rpc URL] [--force]',
    '',
    'train escrows the fee (default: the chain minimum for steps × batch); validators train, re-execute and',
    'attest; --wait follows the job to publication with a progress bar. evaluate re-runs the held-out evaluation',
    'on this machine (datanet rows from the chain, base weights shipped with openledger) and prints the margin.',
    'train and register simulate the call on the node first and refuse a call the chain would fail, at no fee',
    '(--force sends it anyway).',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    const run = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined
    if (run === undefined) throw new CliError('USAGE', `unknown model subcommand '${sub ?? ''}': use ${Object.keys(SUBCOMMANDS).join(', ')}`)
    return run(rest, io)
  },
}
