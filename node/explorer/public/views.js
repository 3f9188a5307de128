// Generic renderers: a key/value table for any record the RPC returns, and row tables.
import { addressLink, html, raw, short, toText } from './format.js'

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const HASH = /^0x[0-9a-fA-F]{64}$/

function value(v) {
  if (v === null || v === undefined) return html`<span class="muted">—</span>`
  if (typeof v === 'object' && '__html' in v) return v // a fragment rendered by the caller
  if (typeof v === 'string' && ADDRESS.test(v)) return addressLink(v)
  if (typeof v === 'string' && HASH.test(v)) return html`<span class="mono" title="${v}">${short(v, 10)}</span>`
  if (Array.isArray(v) && v.every((item) => typeof item !== 'object' || item === null)) return html`${v.map((item, i) => html`${i > 0 ? ', ' : ''}${value(item)}`)}`
  if (typeof v === 'object') return html`<pre>${JSON.stringify(v, null, 1)}</pre>`
  return String(v)
}

export function kvTable(record, { skip = [] } = {}) {
  const rows = Object.entries(record ?? {}).filter(([key]) => !skip.includes(key))
  return html`<table class="kv">${rows.map(([key, v]) => html`<tr><th>${key}</th><td>${value(v)}</td></tr>`)}</table>`
}

/** columns: [{ title, cell: (row) => fragment|string, narrow?: false hides it on phones }] */
export function table(columns, rows, { empty = 'Nothing yet.', rowAttrs = () => '' } = {}) {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`
  const head = html`<tr>${columns.map((c) => html`<th class="${c.narrow === false ? 'hide-narrow' : ''}">${c.title}</th>`)}</tr>`
  const body = rows.map((row) => html`<tr ${raw(rowAttrs(row))}>${columns.map((c) => html`<td class="${c.narrow === false ? 'hide-narrow' : ''}">${c.cell(row)}</td>`)}</tr>`)
  return html`<table>${head}${body}</table>`
}

export function card(title, body, attrs = '') { return html`<section class="card" ${raw(attrs)}><h2>${title}</h2>${body}</section>` }

/** Replaces a section's content only when it changed, so links under the pointer stay put. */
export function update(id, fragment) {
  const element = document.getElementById(id)
  const text = toText(fragment)
  if (element !== null && element.dataset.html !== text) {
    element.innerHTML = text
    element.dataset.html = text
  }
}
