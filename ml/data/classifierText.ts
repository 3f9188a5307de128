// The one text normalisation every classifier input goes through — base-model training, datanet
// fine-tuning and inference alike — so a model sees at serving time what it saw in training:
//
//   1. an e-mail (an RFC 822 header block: the text starts with an mbox "From " line or a
//      "Name: value" header, and a blank line ends the block) keeps only its Subject header
//      (folded lines unfolded) and its body: "Subject: <subject>\n<body>"; quoted-printable soft
//      line breaks ("=\n") are removed and "=XX" escapes of printable ASCII decoded;
//   2. HTML tags and comments become a space, the common entities (&nbsp; &amp; &lt; &gt; &quot;
//      &#NN;) their character;
//   3. lines that look like base64 or uuencoded data (60+ characters without a space) are dropped;
//   4. runs of whitespace become one space (a line break stays a line break), ends trimmed;
//   5. the result is cut to CLASSIFIER_MAX_CHARS characters (the model reads at most its context of
//      tokens anyway; the cap keeps tokenizing cheap), never inside a surrogate pair.
//
// Pure, deterministic.

/** characters kept after normalisation */
export const CLASSIFIER_MAX_CHARS = 1200

const HEADER_LINE = /^[!-9;-~]+:[ \t]?/
const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

export function normaliseClassifierText(raw: string, maxChars = CLASSIFIER_MAX_CHARS): string {
  let text = raw.replace(/\r\n?/g, '\n')
  const email = splitEmail(text)
  if (email !== undefined) {
    let body = email.body
    if (/quoted-printable/i.test(email.headers)) {
      body = body.replace(/=\n/g, '').replace(/=([2-7][0-9A-F])/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    }
    text = `Subject: ${email.subject}\n${body}`
  }
  text = text
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[a-zA-Z!][^<>]*>/g, ' ')
    .replace(/&(#\d{1,5}|[a-z]{2,5});/gi, (entity, name: string) => {
      if (name.startsWith('#')) {
        const code = Number(name.slice(1))
        return code >= 32 && code < 0xd800 ? String.fromCharCode(code) : ' '
      }
      return ENTITIES[name.toLowerCase()] ?? entity
    })
  const lines: string[] = []
  for (const line of text.split('\n')) {
    if (line.length >= 60 && !/\s/.test(line)) continue
    const collapsed = line.replace(/[^\S\n]+/g, ' ').trim()
    if (collapsed.length > 0) lines.push(collapsed)
  }
  return cut(lines.join('\n'), maxChars)
}

function splitEmail(text: string): { headers: string; subject: string; body: string } | undefined {
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0)
  if (!firstLine.startsWith('From ') && !HEADER_LINE.test(firstLine)) return undefined
  const end = text.indexOf('\n\n')
  if (end < 0) return undefined
  const headers = text.slice(0, end)
  const unfolded = headers.replace(/\n[ \t]+/g, ' ')
  const subject = /^subject:[ \t]*(.*)$/im.exec(unfolded)?.[1]?.trim() ?? ''
  return { headers: unfolded, subject, body: text.slice(end + 2) }
}

function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text
  const last = text.charCodeAt(maxChars - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? maxChars - 1 : maxChars)
}
