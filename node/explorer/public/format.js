// Formatting and escaping shared by every view. Amounts are base units (10^-18 OPEN) as decimal strings.
const ONE = 10n ** 18n

export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

/** A tagged template that escapes every interpolated value unless it is a `raw` fragment. */
export function html(strings, ...values) {
  let out = strings[0]
  values.forEach((value, i) => {
    out += (Array.isArray(value) ? value.map(asHtml).join('') : asHtml(value)) + strings[i + 1]
  })
  return raw(out)
}
export function raw(text) { return { __html: text } }
function asHtml(value) { return value !== null && typeof value === 'object' && '__html' in value ? value.__html : escapeHtml(value) }
export function toText(fragment) { return fragment.__html }

export function open(amount, digits = 4) {
  if (amount === null || amount === undefined) return '—'
  const value = BigInt(amount)
  const whole = value / ONE
  const fraction = (value % ONE).toString().padStart(18, '0').slice(0, digits).replace(/0+$/, '')
  return `${whole.toLocaleString('en-US')}${fraction ? '.' + fraction : ''} OPEN`
}

export function short(hex, keep = 6) {
  if (typeof hex !== 'string' || hex.length <= keep * 2 + 3) return hex ?? ''
  return `${hex.slice(0, keep + 2)}…${hex.slice(-keep)}`
}

export function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`
  return `${Math.floor(seconds / 86400)}d ago`
}

export function addressLink(address) {
  return address ? html`<a class="mono" href="#/account/${address}" title="${address}">${short(address)}</a>` : html`<span class="muted">—</span>`
}
export function blockLink(number) { return html`<a href="#/block/${number}">#${number}</a>` }
export function txLink(hash) { return html`<a class="mono" href="#/tx/${hash}" title="${hash}">${short(hash)}</a>` }
export function callName(call) { return call ? `${call.module}.${call.call}` : '' }
