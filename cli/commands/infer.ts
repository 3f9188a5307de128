// `openledger infer --model BASE[:ID] "prompt"`: a completion streamed to the terminal from a serving
// endpoint (`openledger serve`), through its OpenAI-compatible API — what any OpenAI client does.
import { parseArgs } from 'node:util'
import { CliError, type Command } from '../io.ts'
import { DEFAULT_SERVING_URL, parsePositiveInt } from '../parse.ts'

interface ErrorBody {
  error?: { code?: string; message?: string }
}

function parseNumber(text: string, flag: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliError('BAD_ARGUMENT', `${flag} must be a number`)
  return value
}

/** An API error answer as a CliError carrying the server's code. */
export async function apiFailure(response: Response): Promise<CliError> {
  let body: ErrorBody = {}
  try {
    body = (await response.json()) as ErrorBody
  } catch {
    // not JSON: the status says enough
  }
  return new CliError('FAILED', `${response.status} ${body.error?.code ?? ''}: ${body.error?.message ?? response.statusText}`)
}

/** fetch, with an unreachable server as a clear error */
export async function callServer(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (cause) {
    throw new CliError('RPC_ERROR', `cannot reach the serving endpoint ${url} (is \`openledger serve\` running?)`, { cause })
  }
}

export const inferCommand: Command = {
  usage: [
    'openledger infer --model BASE[:ID] [--server URL] [--chat] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--stop TEXT]... "prompt"',
    '',
    '--server URL      the serving endpoint (default ' + DEFAULT_SERVING_URL + ')',
    '--model M         a base model, or base:versionId for one of its published adapters',
    '--chat            send the prompt as a user message to /v1/chat/completions',
    '--temperature T   0 = greedy (default 1)',
    '--seed S          the same seed gives the same tokens',
    '--no-stream       wait for the whole answer',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: {
        server: { type: 'string' }, model: { type: 'string' }, chat: { type: 'boolean' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' },
        'top-p': { type: 'string' }, seed: { type: 'string' }, stop: { type: 'string', multiple: true }, 'no-stream': { type: 'boolean' },
      },
    })
    if (values.model === undefined) throw new CliError('USAGE', '--model is required (GET /v1/models on the server lists them)')
    if (positionals.length !== 1) throw new CliError('USAGE', 'give the prompt as one argument (quote it)')
    const prompt = positionals[0] as string
    const stream = values['no-stream'] !== true
    const body: Record<string, unknown> = {
      model: values.model,
      stream,
      ...(values.chat === true ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
      ...(values['max-tokens'] === undefined ? {} : { max_tokens: parsePositiveInt(values['max-tokens'], '--max-tokens') }),
      ...(values.temperature === undefined ? {} : { temperature: parseNumber(values.temperature, '--temperature') }),
      ...(values['top-p'] === undefined ? {} : { top_p: parseNumber(values['top-p'], '--top-p') }),
      ...(values.seed === undefined ? {} : { seed: parsePositiveInt(values.seed, '--seed', 0) }),
      ...(values.stop === undefined ? {} : { stop: values.stop }),
    }
    const server = (values.server ?? DEFAULT_SERVING_URL).replace(/\/+$/, '')
    const response = await callServer(`${server}/v1/${values.chat === true ? 'chat/completions' : 'completions'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!response.ok) throw await apiFailure(response)
    const textOf = (choice: Record<string, unknown> | undefined): string => {
      if (choice === undefined) return ''
      if (typeof choice['text'] === 'string') return choice['text']
      const part = (choice['delta'] ?? choice['message']) as { content?: unknown } | undefined
      return typeof part?.content === 'string' ? part.content : ''
    }
    let text = ''
    let finish: unknown = null
    const emit = (piece: string) => {
      text += piece
      io.write?.(piece)
    }
    if (!stream) {
      const answer = (await response.json()) as { choices: Array<Record<string, unknown>> }
      emit(textOf(answer.choices[0]))
      finish = answer.choices[0]?.['finish_reason']
    } else {
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!event.startsWith('data: ')) continue
          const data = event.slice('data: '.length)
          if (data === '[DONE]') continue
          const parsed = JSON.parse(data) as { choices?: Array<Record<string, unknown>>; error?: { code: string; message: string } }
          if (parsed.error !== undefined) throw new CliError('FAILED', `${parsed.error.code}: ${parsed.error.message}`)
          const choice = parsed.choices?.[0]
          emit(textOf(choice))
          finish = choice?.['finish_reason'] ?? finish
        }
      }
    }
    if (io.write === undefined) io.out(text)
    else io.write('\n')
    io.err(`[finish_reason: ${String(finish)}]`)
    return 0
  },
}
