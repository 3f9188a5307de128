// Small SVG charts drawn by our own code: bars over time, and a share bar with a legend. Every
// chart scales to its card's width (viewBox), so a phone shows it without scrolling.
import { escapeHtml, raw } from './format.js'

const PALETTE = ['#3c6df0', '#37c871', '#f0a83c', '#c84fd8', '#e5533d', '#2fb3c4', '#8a6df0', '#9aa35a', '#d86fa0', '#5a7a9a']

/** Bars for `values` (numbers), labelled below at a few points; `format` shows the top of the scale. */
export function barChart({ values, labels = [], color = '#3c6df0', width = 600, height = 150, format = (v) => String(v), title = '' }) {
  const pad = { left: 44, right: 8, top: 10, bottom: 20 }
  const max = Math.max(1e-9, ...values)
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const barW = values.length === 0 ? 0 : plotW / values.length
  const bars = values.map((v, i) => {
    const h = (v / max) * plotH
    return `<rect x="${(pad.left + i * barW).toFixed(2)}" y="${(pad.top + plotH - h).toFixed(2)}" width="${Math.max(0.5, barW - 1).toFixed(2)}" height="${h.toFixed(2)}" fill="${color}"><title>${escapeHtml(labels[i] ?? '')}: ${escapeHtml(format(v))}</title></rect>`
  }).join('')
  const ticks = [0, Math.floor((labels.length - 1) / 2), labels.length - 1].filter((i, k, all) => i >= 0 && all.indexOf(i) === k)
  const xLabels = ticks.map((i) => `<text x="${(pad.left + i * barW + barW / 2).toFixed(2)}" y="${height - 5}" text-anchor="middle">${escapeHtml(labels[i] ?? '')}</text>`).join('')
  const axis = `<line x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}" stroke="#ccd"/>` +
    `<text x="${pad.left - 4}" y="${pad.top + 8}" text-anchor="end">${escapeHtml(format(max))}</text><text x="${pad.left - 4}" y="${pad.top + plotH}" text-anchor="end">0</text>`
  return raw(`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">${axis}${bars}${xLabels}</svg>`)
}

/** One horizontal bar split into shares (e.g. stake by validator), with a legend of the largest. */
export function shareBar({ items, width = 600, height = 28, title = '', format = (v) => String(v) }) {
  const total = items.reduce((sum, item) => sum + item.value, 0)
  let x = 0
  const parts = items.map((item, i) => {
    const w = total === 0 ? 0 : (item.value / total) * width
    const rect = `<rect x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="${height}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeHtml(item.label)}: ${escapeHtml(format(item.value))} (${total === 0 ? 0 : ((100 * item.value) / total).toFixed(1)}%)</title></rect>`
    x += w
    return rect
  }).join('')
  const legend = items.slice(0, 10).map((item, i) => `<span style="--c:${PALETTE[i % PALETTE.length]}">${escapeHtml(item.label)} ${total === 0 ? 0 : ((100 * item.value) / total).toFixed(1)}%</span>`).join('')
  return raw(`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">${parts}</svg><div class="legend">${legend}</div>`)
}
