// The explorer: a hash router over pages that read the node's JSON-RPC over WebSocket and stay
// live through subscriptions (chain_subscribeNewHeads). No framework, no build step.
import { Rpc } from './rpc.js'
import { addressLink, blockLink, callName, html, open, short, toText, txLink } from './format.js'
import { barChart, shareBar } from './charts.js'
import { card, kvTable, table, update } from './views.js'
import { inferenceRoutes, providerCard, rewardsCard } from './inference.js'

const main = document.getElementById('main')
const statusEl = document.getElementById('status')
const rpc = new Rpc(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`, (status) => {
  statusEl.textContent = status
  statusEl.className = `status ${status}`
  document.body.dataset.connection = status
})

const HOUR_MS = 3_600_000
/** blocks the overview keeps for its lists and charts (the last hour, at most this many) */
const MAX_RECENT = 1_200
const recent = [] // block summaries, newest first
let stopPage = () => {}

function render(fragment) { main.innerHTML = toText(fragment) }

// ---------------------------------------------------------------------------------------------
// Recent blocks: loaded once, then kept current from the new-heads subscription

let recentLoaded
async function loadRecent() {
  recentLoaded ??= (async () => {
    const first = await rpc.call('openledger_getBlockSummaries', [null, 64, true])
    recent.push(...first)
    const since = Date.now() - HOUR_MS
    while (recent.length < MAX_RECENT && recent.length > 0) {
      const last = recent[recent.length - 1]
      if (last.number === 0 || last.timestamp < since) break
      const more = await rpc.call('openledger_getBlockSummaries', [last.number - 1, 256, false])
      if (more.length === 0) break
      recent.push(...more)
    }
  })()
  return recentLoaded
}

const headListeners = new Set()
// heads are handled one after another, so a block is added once and in order
let headQueue = Promise.resolve()
rpc.subscribe('chain_subscribeNewHeads', [], (header) => {
  headQueue = headQueue.then(async () => {
    await loadRecent()
    if (recent.length > 0 && header.number <= recent[0].number) return
    const [summary] = await rpc.call('openledger_getBlockSummaries', [header.number, 1, true])
    if (summary === undefined || (recent.length > 0 && summary.number <= recent[0].number)) return
    recent.unshift(summary)
    if (recent.length > MAX_RECENT) recent.length = MAX_RECENT
    for (const listener of headListeners) listener(summary)
  }).catch(() => {})
}, 'chain_unsubscribeNewHeads')

function onHead(listener) {
  headListeners.add(listener)
  return () => headListeners.delete(listener)
}

// ---------------------------------------------------------------------------------------------
// Pages

const blockColumns = [
  { title: 'Block', cell: (b) => blockLink(b.number) },
  { title: 'Time', cell: (b) => new Date(b.timestamp).toLocaleTimeString() },
  { title: 'Txs', cell: (b) => String(b.txCount) },
  { title: 'Gas', cell: (b) => String(b.gasUsed), narrow: false },
  { title: 'Author', cell: (b) => addressLink(b.author), narrow: false },
]
const txColumns = [
  { title: 'Transaction', cell: (t) => txLink(t.hash) },
  { title: 'Call', cell: (t) => callName(t.call) },
  { title: 'From', cell: (t) => addressLink(t.from), narrow: false },
  { title: 'Block', cell: (t) => blockLink(t.block) },
]

function recentTransactions(limit = 15) {
  const out = []
  for (const block of recent) {
    for (const tx of block.transactions ?? []) {
      out.push({ ...tx, block: block.number })
      if (out.length >= limit) return out
    }
  }
  return out
}

/** Block times and transactions per block over the last hour, in 30 time buckets. */
function activityCharts() {
  const now = Date.now()
  const since = now - HOUR_MS
  const blocks = recent.filter((b) => b.timestamp >= since).slice().reverse()
  if (blocks.length < 2) return html`<p class="muted">Not enough blocks in the last hour yet.</p>`
  const start = Math.max(since, blocks[0].timestamp)
  const buckets = 30
  const span = Math.max(1, now - start) / buckets
  const times = Array.from({ length: buckets }, () => ({ sum: 0, n: 0 }))
  const txs = Array.from({ length: buckets }, () => ({ sum: 0, n: 0 }))
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]
    const k = Math.min(buckets - 1, Math.floor((b.timestamp - start) / span))
    txs[k].sum += b.txCount; txs[k].n += 1
    if (i > 0) { times[k].sum += b.timestamp - blocks[i - 1].timestamp; times[k].n += 1 }
  }
  const labels = Array.from({ length: buckets }, (_, k) => new Date(start + k * span).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }))
  const minutes = Math.round((now - start) / 60_000)
  return html`
    <p class="muted">${blocks.length} blocks over the last ${minutes < 1 ? 'minute' : `${minutes} min`}${blocks.length >= MAX_RECENT ? ` (the latest ${MAX_RECENT})` : ''}.</p>
    <h2>Block time (s)</h2>${barChart({ values: times.map((t) => (t.n === 0 ? 0 : t.sum / t.n / 1000)), labels, title: 'block time', format: (v) => v.toFixed(2) })}
    <h2>Transactions per block</h2>${barChart({ values: txs.map((t) => (t.n === 0 ? 0 : t.sum / t.n)), labels, color: '#37c871', title: 'transactions per block', format: (v) => v.toFixed(1) })}`
}

/** charts are redrawn at most this often (ms): a bucket of the last hour moves slowly */
const CHART_REFRESH_MS = 5_000

async function overview() {
  const [supply, fees] = await Promise.all([rpc.tryCall('openledger_getSupply'), rpc.tryCall('openledger_estimateFee')])
  await loadRecent()
  render(html`
    <h1>Overview</h1>
    <div class="stats">
      <div class="card stat"><div class="label">Height</div><div class="value" id="height">—</div></div>
      <div class="card stat"><div class="label">Block time</div><div class="value" id="last-block">—</div></div>
      <div class="card stat"><div class="label">Base fee</div><div class="value">${fees ? `${(Number(fees.baseFeePerGas) / 1e9).toFixed(2)} gwei` : '—'}</div></div>
      <div class="card stat"><div class="label">Supply</div><div class="value">${supply ? open(supply.totalIssuance, 0) : '—'}</div></div>
    </div>
    <div class="grid">
      <section class="card"><h2>Latest blocks</h2><div id="latest-blocks"></div></section>
      <section class="card"><h2>Latest transactions</h2><div id="latest-txs"></div></section>
      <section class="card"><h2>Activity</h2><div id="activity"></div></section>
    </div>`)
  let chartsDrawn = 0
  const draw = () => {
    const head = recent[0]
    update('height', html`${head ? head.number : '—'}`)
    update('last-block', html`${head && recent[1] ? `${((head.timestamp - recent[1].timestamp) / 1000).toFixed(2)} s` : '—'}`)
    update('latest-blocks', table(blockColumns, recent.slice(0, 12)))
    update('latest-txs', table(txColumns, recentTransactions()))
    if (Date.now() - chartsDrawn >= CHART_REFRESH_MS) {
      chartsDrawn = Date.now()
      update('activity', activityCharts())
    }
  }
  draw()
  return onHead(draw)
}

async function blockPage(id) {
  let number = /^\d+$/.test(id) ? Number(id) : undefined
  if (number === undefined) number = (await rpc.tryCall('chain_getHeader', [id]))?.number
  if (number === undefined) return render(html`<h1>Block not found</h1><p class="muted mono">${id}</p>`)
  const [summary] = await rpc.call('openledger_getBlockSummaries', [number, 1, true])
  if (summary === undefined || summary.number !== number) return render(html`<h1>Block #${number} not found</h1>`)
  const [header, events] = await Promise.all([rpc.tryCall('chain_getHeader', [summary.hash]), rpc.tryCall('openledger_getBlockEvents', [number])])
  render(html`
    <h1>Block #${number}</h1>
    <div class="grid">
      ${card('Header', kvTable(header))}
      ${card(`Transactions (${summary.txCount})`, table(txColumns, summary.transactions.map((t) => ({ ...t, block: number }))))}
      ${card('Block events', table([{ title: 'Event', cell: (e) => `${e.module}.${e.event}` }, { title: 'Data', cell: (e) => html`<pre>${JSON.stringify(e.data)}</pre>` }], events?.events ?? []))}
    </div>`)
}

async function txPage(hash) {
  const [tx, receipt] = await Promise.all([rpc.tryCall('openledger_getTransaction', [hash]), rpc.tryCall('openledger_getReceipt', [hash])])
  if (tx === null) return render(html`<h1>Transaction not found</h1><p class="mono">${hash}</p>`)
  render(html`
    <h1>Transaction <span class="mono">${short(hash, 10)}</span></h1>
    <div class="grid">
      ${card('Transaction', kvTable({ ...tx, call: `${tx.call.module}.${tx.call.call}`, arguments: tx.call.args }))}
      ${receipt ? card('Receipt', html`<p class="${receipt.status === 'success' ? 'ok' : 'bad'}">${receipt.status}${receipt.error ? ` — ${receipt.error}` : ''}</p>
        ${kvTable({ block: receipt.blockNumber, gasUsed: receipt.gasUsed, fee: open(receipt.fee, 8), finalized: receipt.finalized })}
        <h2>Events</h2>${table([{ title: 'Event', cell: (e) => `${e.module}.${e.event}` }, { title: 'Data', cell: (e) => html`<pre>${JSON.stringify(e.data)}</pre>` }], receipt.events)}`) : card('Receipt', html`<p class="muted">pending</p>`)}
    </div>`)
}

async function accountPage(address) {
  const [account, validator, provider, rewards] = await Promise.all([
    rpc.call('openledger_getAccount', [address]), rpc.tryCall('openledger_getValidator', [address]), rpc.tryCall('openledger_getProvider', [address]), rpc.tryCall('openledger_getRewards', [address]),
  ])
  await loadRecent()
  const lower = address.toLowerCase()
  const activity = recent.flatMap((b) => (b.transactions ?? []).filter((t) => t.from === lower || JSON.stringify(t.call?.args ?? '').toLowerCase().includes(lower)).map((t) => ({ ...t, block: b.number }))).slice(0, 25)
  render(html`
    <h1>Account <span class="mono">${address}</span></h1>
    <div class="grid">
      ${card('Balance', html`<p class="stat"><span class="value" id="balance">${open(account.free)}</span></p>${kvTable({ nonce: account.nonce, spendable: open(account.spendable), locked: open(account.locked), vesting: account.vesting })}`, 'id="account"')}
      ${validator ? card('Validator', kvTable(validator)) : ''}
      ${provider ? providerCard(provider) : ''}
      ${rewards && (rewards.accrued !== '0' || rewards.claimed !== '0') ? rewardsCard(rewards) : ''}
      ${card('Recent activity', table(txColumns, activity, { empty: 'No transactions in the recent blocks.' }))}
    </div>`)
}

async function validatorsPage() {
  const [set, info] = await Promise.all([rpc.call('openledger_getValidators', [null]), rpc.tryCall('openledger_getStakingInfo', [null])])
  const items = set.validators.map((v) => ({ label: short(v.operator, 4), value: Number(BigInt(v.tokens) / 10n ** 18n) })).sort((a, b) => b.value - a.value)
  render(html`
    <h1>Validators and staking</h1>
    <div class="grid">
      ${card('Stake distribution', shareBar({ items, title: 'stake by validator', format: (v) => `${v.toLocaleString('en-US')} OPEN` }), 'id="stake"')}
      ${card('Validators', table([
        { title: 'Operator', cell: (v) => addressLink(v.operator) },
        { title: 'Stake', cell: (v) => open(v.tokens, 0) },
        { title: 'Status', cell: (v) => `${v.status}${v.inActiveSet ? ' (active)' : ''}` },
        { title: 'Commission', cell: (v) => `${(v.commissionBps / 100).toFixed(2)}%`, narrow: false },
      ], set.validators))}
      ${info ? card('Staking', kvTable(info)) : ''}
    </div>`)
}

async function datanetsPage() {
  const list = await rpc.call('openledger_listDatanets', [null, 100])
  render(html`<h1>Datanets</h1>${card(`${list.length} datanets`, table([
    { title: 'Id', cell: (d) => html`<a href="#/datanet/${d.id}">${d.id}</a>` },
    { title: 'Name', cell: (d) => html`<a href="#/datanet/${d.id}">${d.name}</a>` },
    { title: 'Versions', cell: (d) => String(d.versions) },
    { title: 'Contributions', cell: (d) => String(d.contributions), narrow: false },
    { title: 'Owner', cell: (d) => addressLink(d.owner), narrow: false },
  ], list, { empty: 'No datanets yet.' }))}`)
}

async function datanetPage(id) {
  const datanet = await rpc.tryCall('openledger_getDatanet', [Number(id)])
  if (datanet === null) return render(html`<h1>Datanet ${id} not found</h1>`)
  const numbers = Array.from({ length: Math.min(datanet.versions, 50) }, (_, i) => datanet.versions - Math.min(datanet.versions, 50) + 1 + i)
  const versions = (await Promise.all(numbers.map((v) => rpc.tryCall('openledger_getDatanetVersion', [datanet.id, v])))).filter(Boolean)
  const contributions = await rpc.tryCall('openledger_listContributions', [datanet.id, null, 50]) ?? []
  render(html`
    <h1>Datanet ${datanet.id}: ${datanet.name}</h1>
    <div class="grid">
      ${card('Datanet', kvTable(datanet))}
      ${card('Contributions over versions', versions.length === 0 ? html`<p class="muted">No versions published yet.</p>` : barChart({ values: versions.map((v) => v.contributions), labels: versions.map((v) => `v${v.version}`), color: '#f0a83c', title: 'contributions per version' }), 'id="versions-chart"')}
      ${card('Versions', table([{ title: 'Version', cell: (v) => `v${v.version}` }, { title: 'Contributions', cell: (v) => String(v.contributions) }, { title: 'Bytes', cell: (v) => String(v.bytes) }, { title: 'Root', cell: (v) => html`<span class="mono">${short(v.root)}</span>`, narrow: false }], versions.slice().reverse()))}
      ${card('Contributions', table([{ title: '#', cell: (c) => String(c.index) }, { title: 'Contributor', cell: (c) => addressLink(c.contributor) }, { title: 'Status', cell: (c) => String(c.status) }, { title: 'Bytes', cell: (c) => String(c.size), narrow: false }], contributions))}
    </div>`)
}

async function modelsPage() {
  const [bases, versions, jobs] = await Promise.all([rpc.tryCall('openledger_listBaseModels', [null, 100]), rpc.tryCall('openledger_listModelVersions', [null, 100]), rpc.tryCall('openledger_listTrainingJobs', [null, 100])])
  render(html`<h1>Models</h1><div class="grid">
    ${card('Base models', table([{ title: 'Id', cell: (m) => html`<a href="#/base/${m.id}">${m.id}</a>` }, { title: 'Name', cell: (m) => html`<a href="#/base/${m.id}">${m.name}</a>` }, { title: 'Kind', cell: (m) => String(m.kind) }], bases ?? [], { empty: 'No base models.' }))}
    ${card('Model versions', table([{ title: 'Id', cell: (m) => html`<a href="#/model/${m.id}">${m.id}</a>` }, { title: 'Base', cell: (m) => html`<a href="#/base/${m.base}">${m.base}</a>` }, { title: 'Job', cell: (m) => html`<a href="#/job/${m.job}">${m.job}</a>` }, { title: 'Owner', cell: (m) => addressLink(m.owner), narrow: false }], versions ?? [], { empty: 'No trained models yet.' }))}
    ${card('Training jobs', table([{ title: 'Job', cell: (j) => html`<a href="#/job/${j.id}">${j.id}</a>` }, { title: 'Status', cell: (j) => String(j.status) }, { title: 'Owner', cell: (j) => addressLink(j.owner), narrow: false }], jobs ?? [], { empty: 'No training jobs yet.' }))}
  </div>`)
}

async function recordPage(title, method, id) {
  const record = await rpc.tryCall(method, [Number(id)])
  render(record === null ? html`<h1>${title} ${id} not found</h1>` : html`<h1>${title} ${id}${record.name ? `: ${record.name}` : ''}</h1>${card(title, kvTable(record, { skip: ['architecture'] }))}`)
}

/** Finds what the query names: an address, a transaction or block, a block number, datanets and models by name. */
async function searchPage(query) {
  const q = query.trim()
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) return void (location.hash = `#/account/${q}`)
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
    if (await rpc.tryCall('openledger_getTransaction', [q])) return void (location.hash = `#/tx/${q}`)
    if (await rpc.tryCall('chain_getHeader', [q])) return void (location.hash = `#/block/${q}`)
  }
  if (/^#?\d+$/.test(q)) return void (location.hash = `#/block/${q.replace('#', '')}`)
  const numbered = /^(datanet|model|base|job|inference|record|attribution)\s*#?(\d+)$/i.exec(q)
  // an inference record and its attribution share the record's id and its page
  if (numbered !== null) return void (location.hash = `#/${numbered[1].toLowerCase().replace(/^(record|attribution)$/, 'inference')}/${numbered[2]}`)
  const [datanets, bases, versions] = await Promise.all([rpc.tryCall('openledger_listDatanets', [null, 100]), rpc.tryCall('openledger_listBaseModels', [null, 100]), rpc.tryCall('openledger_listModelVersions', [null, 100])])
  const needle = q.toLowerCase()
  const named = (items) => (items ?? []).filter((item) => String(item.name ?? '').toLowerCase().includes(needle) || (item.tags ?? []).some((t) => String(t).toLowerCase().includes(needle)))
  const results = [
    ...named(datanets).map((d) => ({ kind: 'Datanet', href: `#/datanet/${d.id}`, name: d.name, id: d.id })),
    ...named(bases).map((m) => ({ kind: 'Base model', href: `#/base/${m.id}`, name: m.name, id: m.id })),
    // a trained model is found by its base model's name: "<base name> v<id>"
    ...(versions ?? []).map((m) => ({ ...m, name: `${(bases ?? []).find((b) => b.id === m.base)?.name ?? 'model'} v${m.id}` })).filter((m) => m.name.toLowerCase().includes(needle)).map((m) => ({ kind: 'Model', href: `#/model/${m.id}`, name: m.name, id: m.id })),
  ]
  render(html`<h1>Search: ${q}</h1>${card('Results', table([{ title: 'Kind', cell: (r) => r.kind }, { title: 'Name', cell: (r) => html`<a href="${r.href}">${r.name}</a>` }, { title: 'Id', cell: (r) => String(r.id) }], results, { empty: 'Nothing found.' }), 'id="results"')}`)
}

const routes = [
  [/^(?:#\/?)?(?:overview)?$/, () => overview()],
  [/^#\/block\/(.+)$/, blockPage],
  [/^#\/tx\/(0x[0-9a-fA-F]{64})$/, txPage],
  [/^#\/account\/(0x[0-9a-fA-F]{40})$/, accountPage],
  [/^#\/validators$/, validatorsPage],
  [/^#\/datanets$/, datanetsPage],
  [/^#\/datanet\/(\d+)$/, datanetPage],
  [/^#\/models$/, modelsPage],
  [/^#\/base\/(\d+)$/, (id) => recordPage('Base model', 'openledger_getBaseModel', id)],
  [/^#\/model\/(\d+)$/, (id) => recordPage('Model', 'openledger_getModelVersion', id)],
  [/^#\/job\/(\d+)$/, (id) => recordPage('Training job', 'openledger_getTrainingJob', id)],
  ...inferenceRoutes({ rpc, render, onHead }),
  [/^#\/search\/(.*)$/, (q) => searchPage(decodeURIComponent(q))],
]

async function route() {
  stopPage()
  stopPage = () => {}
  const hash = location.hash
  for (const [pattern, page] of routes) {
    const match = pattern.exec(hash)
    if (match === null) continue
    try {
      const stop = await page(...match.slice(1))
      if (typeof stop === 'function') stopPage = stop
    } catch (error) {
      render(html`<h1>Something went wrong</h1><p class="bad">${error.message}</p>`)
    }
    document.body.dataset.page = hash.split('/')[1] || 'overview'
    return
  }
  render(html`<h1>Not found</h1><p><a href="#/">Back to the overview</a></p>`)
}

document.getElementById('search').addEventListener('submit', (event) => {
  event.preventDefault()
  const q = document.getElementById('search-input').value.trim()
  if (q !== '') location.hash = `#/search/${encodeURIComponent(q)}`
})
window.addEventListener('hashchange', route)
void route()
