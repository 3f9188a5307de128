// @ts-check (the views are the node's RPC contract's, node/rpc/contract.ts: tsconfig.explorer.json)
// The inference market and Proof of Attribution in the explorer: providers (bond, offer, what they
// served), paid inference records with their fee split, and each record's attribution (receipt,
// payouts to contributions, what went to the treasury). The lists stay live: they are read again
// when new blocks arrive (at most every REFRESH_MS).
import { addressLink, blockLink, html, open, short } from './format.js'
import { shareBar } from './charts.js'
import { card, kvTable, table, update } from './views.js'

/** @typedef {import('./rpc.js').Rpc} Rpc */
/** @typedef {import('../../rpc/contract.ts').InferenceRecordView} InferenceRecordView */
/** @typedef {import('../../rpc/contract.ts').ProviderView} ProviderView */
/** @typedef {import('../../rpc/contract.ts').AttributionView} AttributionView */
/** @typedef {import('../../rpc/contract.ts').RewardView} RewardView */
/** @template T @typedef {{ title: string, cell: (row: T) => unknown, narrow?: boolean }} Column */

/** lists are read again at most this often (ms) while new blocks arrive */
const REFRESH_MS = 2_000
/** rows a list page reads */
const LIST = 50
/** @type {Array<[keyof InferenceRecordView['split'], string]>} */
const SPLIT_PARTS = [['provider', 'Provider'], ['modelOwner', 'Model owners'], ['contributors', 'Data contributors'], ['treasury', 'Treasury']]

const baseNames = new Map()
/** @param {Rpc} rpc @param {InferenceRecordView} record */
async function modelName(rpc, record) {
  if (!baseNames.has(record.base)) baseNames.set(record.base, (await rpc.tryCall('openledger_getBaseModel', [record.base]))?.name ?? `base ${record.base}`)
  const adapters = record.adapters.map((a) => html`<a href="#/model/${a.id}">v${a.id}</a>${a.weightMilli === 1000 ? '' : ` ×${a.weightMilli / 1000}`}`)
  return html`<a href="#/base/${record.base}">${baseNames.get(record.base)}</a>${adapters.length > 0 ? html` + ${adapters.map((a, i) => html`${i > 0 ? ', ' : ''}${a}`)}` : ''}`
}

/** base units as OPEN numbers for charts (precision beyond a chart's is dropped) */
function openNumber(amount) { return Number(BigInt(amount) / 10n ** 12n) / 1e6 }
const openLabel = (v) => `${v.toLocaleString('en-US', { maximumFractionDigits: 6 })} OPEN`

/** @param {InferenceRecordView[]} records @param {string} title */
function splitChart(records, title) {
  const totals = SPLIT_PARTS.map(([key, label]) => ({ label, value: records.reduce((sum, r) => sum + openNumber(r.split[key]), 0) }))
  return shareBar({ items: totals, title, format: openLabel })
}

/** @param {ProviderView} p */
const offer = (p) => `${open(p.priceIn, 6)} in / ${open(p.priceOut, 6)} out per 1k tokens`
const ZERO_ADDRESS = /^0x0{40}$/
/** no attributor yet (or none drawn: an unattributed record) */
const attributorLink = (a) => (ZERO_ADDRESS.test(a) ? html`<span class="muted">—</span>` : addressLink(a))

/** @type {Array<Column<ProviderView>>} */
const providerColumns = [
  { title: 'Provider', cell: (p) => html`<a class="mono" href="#/provider/${p.operator}" title="${p.operator}">${short(p.operator)}</a>` },
  { title: 'Status', cell: (p) => String(p.status) },
  { title: 'Bond', cell: (p) => open(p.bond, 0) },
  { title: 'Served', cell: (p) => String(p.served) },
  { title: 'In / out per 1k tokens', cell: (p) => `${open(p.priceIn, 6).replace(' OPEN', '')} / ${open(p.priceOut, 6)}`, narrow: false },
]

/** @param {Map<number, unknown>} names @returns {Array<Column<InferenceRecordView>>} */
function recordColumns(names) {
  return [
    { title: 'Record', cell: (r) => html`<a href="#/inference/${r.id}">${r.id}</a>` },
    { title: 'Model', cell: (r) => names.get(r.id) ?? '' },
    { title: 'Fee', cell: (r) => open(r.price, 6) },
    { title: 'Provider', cell: (r) => addressLink(r.provider), narrow: false },
    { title: 'Tokens', cell: (r) => `${r.inputTokens} → ${r.outputTokens}`, narrow: false },
    { title: 'Block', cell: (r) => blockLink(r.height), narrow: false },
  ]
}

/** @type {Array<Column<AttributionView>>} */
const attributionColumns = [
  { title: 'Record', cell: (a) => html`<a href="#/inference/${a.record}">${a.record}</a>` },
  { title: 'Status', cell: (a) => html`<span class="${a.status === 'final' ? 'ok' : a.status === 'unattributed' ? 'muted' : ''}">${a.status}</span>` },
  { title: 'To contributors', cell: (a) => open(a.paid, 6) },
  { title: 'Payouts', cell: (a) => String(a.payouts.length), narrow: false },
  { title: 'Attributor', cell: (a) => attributorLink(a.attributor), narrow: false },
]

/** @param {Rpc} rpc @param {InferenceRecordView[]} records */
async function namesOf(rpc, records) {
  return new Map(await Promise.all(records.map(async (r) => /** @type {[number, unknown]} */ ([r.id, await modelName(rpc, r)]))))
}

/** Redraws `draw` when blocks arrive, at most every REFRESH_MS; returns the page's stop function. */
function live(onHead, draw) {
  let last = Date.now()
  let running = false
  return onHead(() => {
    if (running || Date.now() - last < REFRESH_MS) return
    running = true
    last = Date.now()
    draw().catch(() => {}).finally(() => { running = false })
  })
}

/** @param {ProviderView} provider */
export function providerCard(provider) {
  return card('Inference provider', kvTable({
    status: provider.status, bond: open(provider.bond), unbonding: open(provider.unbonding), endpoint: provider.endpoint, price: offer(provider),
    models: provider.models.map((m) => `base ${m}`).join(', '), capacity: provider.capacity, openRequests: provider.openRequests, served: provider.served,
    slashed: open(provider.slashedTotal), registered: provider.registeredHeight,
  }), 'id="provider"')
}

/** @param {RewardView} rewards */
export function rewardsCard(rewards) {
  return card('Attribution rewards', kvTable({ accrued: open(rewards.accrued, 8), claimed: open(rewards.claimed, 8) }), 'id="rewards"')
}

/** @param {{ rpc: Rpc, render: (fragment: unknown) => void, onHead: (listener: () => void) => () => void }} page */
export function inferenceRoutes({ rpc, render, onHead }) {
  async function inferencePage() {
    render(html`
      <h1>Inference</h1>
      <div class="grid">
        <section class="card" id="fee-split"><h2>Where the fees went</h2></section>
        <section class="card"><h2>Providers <a class="small" href="#/providers">all</a></h2><div id="providers"></div></section>
        <section class="card wide"><h2>Latest inference records</h2><div id="records"></div></section>
        <section class="card wide"><h2>Latest attributions <a class="small" href="#/attribution">all</a></h2><div id="attributions"></div></section>
      </div>`)
    const draw = async () => {
      const [providers, records, attributions] = await Promise.all([
        rpc.call('openledger_listProviders', [10, null]), rpc.call('openledger_listInferenceRecords', [null, LIST]), rpc.call('openledger_listAttributions', [null, 10]),
      ])
      const names = await namesOf(rpc, records)
      update('fee-split', html`<h2>Where the fees went</h2>${records.length === 0 ? html`<p class="muted">No paid inference yet.</p>`
        : html`<p class="muted">${records.length} latest records, ${open(records.reduce((sum, r) => sum + BigInt(r.price), 0n), 6)} in fees.</p>${splitChart(records, 'fee split')}`}`)
      update('providers', table(providerColumns, providers, { empty: 'No providers registered.' }))
      update('records', table(recordColumns(names), records, { empty: 'No paid inference yet.' }))
      update('attributions', table(attributionColumns, attributions, { empty: 'No attributions yet.' }))
    }
    await draw()
    return live(onHead, draw)
  }

  async function providersPage() {
    const providers = await rpc.call('openledger_listProviders', [100, null])
    render(html`
      <h1>Inference providers</h1>
      <div class="grid">
        ${card('Bond by provider', providers.length === 0 ? html`<p class="muted">No providers registered.</p>`
          : shareBar({ items: providers.map((p) => ({ label: short(p.operator, 4), value: openNumber(p.bond) })).sort((a, b) => b.value - a.value), title: 'bond by provider', format: openLabel }), 'id="bonds"')}
        ${card(`${providers.length} providers`, table(providerColumns, providers, { empty: 'No providers registered.' }), 'id="provider-list"')}
      </div>`)
  }

  async function providerPage(address) {
    const [provider, records] = await Promise.all([rpc.tryCall('openledger_getProvider', [address]), rpc.call('openledger_listInferenceRecords', [null, 100])])
    if (provider === null) return render(html`<h1>Provider not found</h1><p class="mono">${address}</p>`)
    const served = records.filter((r) => r.provider === provider.operator)
    const names = await namesOf(rpc, served)
    render(html`
      <h1>Provider <span class="mono">${provider.operator}</span></h1>
      <div class="grid">
        ${providerCard(provider)}
        ${card('Its fees, split', served.length === 0 ? html`<p class="muted">Nothing served in the latest records.</p>` : splitChart(served, 'fee split of its records'))}
        <section class="card wide"><h2>Inference records it served</h2>${table(recordColumns(names), served, { empty: 'Nothing served in the latest records.' })}</section>
      </div>`)
  }

  async function recordPage(id) {
    const [record, attribution] = await Promise.all([rpc.tryCall('openledger_getInferenceRecord', [Number(id)]), rpc.tryCall('openledger_getAttribution', [Number(id)])])
    if (record === null) return render(html`<h1>Inference record ${id} not found</h1>`)
    const model = await modelName(rpc, record)
    const receipt = attribution?.receipt ?? null
    render(html`
      <h1>Inference record ${record.id}</h1>
      <div class="grid">
        ${card('Inference', kvTable({
          provider: record.provider, user: record.user, via: `${record.source} ${record.sourceId}`, model, promptTokens: record.promptTokens, inputTokens: record.inputTokens,
          outputTokens: record.outputTokens, outputHash: record.outputHash, outputCid: record.outputCid, block: blockLink(record.height),
        }), 'id="record"')}
        ${card(`Fee ${open(record.price, 8)}, split`, html`${splitChart([record], 'fee split')}${kvTable(Object.fromEntries(SPLIT_PARTS.map(([key, label]) => [label, open(record.split[key], 8)])))}
          ${record.owners.length > 0 ? table([{ title: 'Model owner', cell: (o) => addressLink(o.owner) }, { title: 'Paid', cell: (o) => open(o.amount, 8) }], record.owners) : ''}`, 'id="split"')}
        ${attribution === null ? card('Attribution', html`<p class="muted">Not assigned yet.</p>`, 'id="attribution"') : card('Attribution', html`
          <p class="${attribution.status === 'final' ? 'ok' : 'muted'}" id="attribution-status">${attribution.status}</p>
          ${kvTable({ attributor: attributorLink(attribution.attributor), method: receipt?.method ?? null, 'to contributors': open(attribution.paid, 8), 'to treasury': open(attribution.toTreasury, 8), final: attribution.finalHeight || null, receiptHash: attribution.receiptHash })}
          ${receipt && receipt.datanets.length > 0 ? html`<h2>Lineage</h2>${table([{ title: 'Datanet', cell: (d) => html`<a href="#/datanet/${d.datanet}">${d.datanet}</a>` }, { title: 'Version', cell: (d) => `v${d.version}` }], receipt.datanets)}` : ''}`, 'id="attribution"')}
        ${attribution !== null && attribution.payouts.length > 0 ? card('Payouts to contributions', html`
          ${shareBar({ items: attribution.payouts.map((p) => ({ label: `${p.datanet}/${p.index}`, value: openNumber(p.amount) })), title: 'payouts by contribution', format: openLabel })}
          ${table([
            { title: 'Contribution', cell: (p) => html`<a href="#/datanet/${p.datanet}">${p.datanet}</a>/${p.index}` },
            { title: 'Contributor', cell: (p) => addressLink(p.contributor) },
            { title: 'Paid', cell: (p) => open(p.amount, 8) },
            { title: 'Score', cell: (p) => { const s = receipt?.contributions.find((c) => c.datanet === p.datanet && c.index === p.index); return s ? `${(s.score / 10_000).toFixed(2)}%` : '—' }, narrow: false },
          ], attribution.payouts)}`, 'id="payouts"') : ''}
      </div>`)
  }

  async function attributionsPage() {
    render(html`<h1>Proof of Attribution</h1><div class="grid">
      <section class="card" id="attribution-split"><h2>Contributors' pools</h2></section>
      <section class="card wide"><h2>Attributions</h2><div id="attribution-list"></div></section>
    </div>`)
    const draw = async () => {
      const list = await rpc.call('openledger_listAttributions', [null, LIST])
      const paid = list.reduce((sum, a) => sum + openNumber(a.paid), 0)
      const treasury = list.reduce((sum, a) => sum + openNumber(a.toTreasury), 0)
      update('attribution-split', html`<h2>Contributors' pools</h2>${list.length === 0 ? html`<p class="muted">No attributions yet.</p>`
        : html`<p class="muted">Over the ${list.length} latest records.</p>${shareBar({ items: [{ label: 'Paid to contributors', value: paid }, { label: 'To the treasury', value: treasury }], title: 'pools paid out', format: openLabel })}`}`)
      update('attribution-list', table(attributionColumns, list, { empty: 'No attributions yet.' }))
    }
    await draw()
    return live(onHead, draw)
  }

  return [
    [/^#\/inference$/, inferencePage],
    [/^#\/providers$/, providersPage],
    [/^#\/provider\/(0x[0-9a-fA-F]{40})$/, providerPage],
    [/^#\/inference\/(\d+)$/, recordPage],
    [/^#\/attribution$/, attributionsPage],
  ]
}
