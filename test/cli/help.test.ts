// `dev --help` and `start --help` describe every option the commands take: each option's flag is
// named in the help's descriptions, below the usage line (which alone does not say what a flag does).
import t from 'tap'
import { devCommand, devOptions } from '../../cli/commands/dev.ts'
import { startCommand, startOptions } from '../../cli/commands/start.ts'

for (const [name, command, options] of [['dev', devCommand, devOptions], ['start', startCommand, startOptions]] as const) {
  t.test(`${name} --help describes every option`, async (t) => {
    const descriptions = command.usage.split('\n').slice(1).join('\n')
    const undescribed = Object.keys(options).filter((option) => !new RegExp(`--${option}(?![\\w-])`).test(descriptions))
    t.same(undescribed, [], `${name}: options without a description`)
  })
}
