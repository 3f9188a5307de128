// Structured logs with levels. One line per record on stderr: JSON when asked (or not a TTY under
// CI), otherwise `time level [service] message key=value`.
export const LOG_LEVELS = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 } as const
export type LogLevel = keyof typeof LOG_LEVELS
export type LogFields = Record<string, unknown>

export interface Logger {
  error(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  debug(message: string, fields?: LogFields): void
  trace(message: string, fields?: LogFields): void
  child(service: string): Logger
  isEnabled(level: LogLevel): boolean
}

export interface LoggerOptions {
  level?: LogLevel
  format?: 'json' | 'text'
  write?: (line: string) => void
  service?: string
}

function formatValue(value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (value instanceof Error) return JSON.stringify(value.message)
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS[options.level ?? 'info']
  const format = options.format ?? 'text'
  const write = options.write ?? ((line: string) => void process.stderr.write(line + '\n'))
  const service = options.service

  function emit(level: LogLevel, message: string, fields?: LogFields): void {
    if (LOG_LEVELS[level] > threshold) return
    const time = new Date().toISOString()
    if (format === 'json') {
      const record: Record<string, unknown> = { time, level, ...(service === undefined ? {} : { service }), msg: message }
      for (const [key, value] of Object.entries(fields ?? {})) {
        record[key] = typeof value === 'bigint' ? value.toString() : value instanceof Error ? value.message : value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value
      }
      write(JSON.stringify(record))
      return
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${service === undefined ? '' : `[${service}] `}${message}`
    for (const [key, value] of Object.entries(fields ?? {})) line += ` ${key}=${formatValue(value)}`
    write(line)
  }

  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    trace: (m, f) => emit('trace', m, f),
    child: (name) => createLogger({ ...options, service: service === undefined ? name : `${service}/${name}` }),
    isEnabled: (level) => LOG_LEVELS[level] <= threshold,
  }
}

/** A logger that drops everything; tests use it unless they assert on logs. */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} })
