// The logger options every long-running command takes.
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../lib/logger.ts'
import { CliError } from './io.ts'

export const loggingOptions = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const

export function loggerFrom(values: { 'log-level'?: string | undefined; 'log-format'?: string | undefined }): Logger {
  const level = values['log-level'] ?? 'info'
  if (!(level in LOG_LEVELS)) throw new CliError('BAD_ARGUMENT', `--log-level must be one of ${Object.keys(LOG_LEVELS).join(', ')}`)
  const format = values['log-format'] ?? 'text'
  if (format !== 'text' && format !== 'json') throw new CliError('BAD_ARGUMENT', '--log-format must be text or json')
  return createLogger({ level: level as LogLevel, format })
}

/** Resolves on SIGINT or SIGTERM (once). */
export function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const shutdown = (signal: string) => {
      logger.info('shutting down', { signal })
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve()
    }
    const onInt = () => shutdown('SIGINT')
    const onTerm = () => shutdown('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
  })
}
