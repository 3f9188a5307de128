// The RPC port's static site (the explorer) and the same-origin rule that lets its page call.
import t from 'tap'
import { originAllowed } from '../../../node/rpc/http.ts'
import { EXPLORER_FILES, loadExplorerSite } from '../../../node/explorer/site.ts'

t.test('a page the node served itself may call when the host is an IP or localhost', async (t) => {
  t.ok(originAllowed([], 'http://127.0.0.1:9944', '127.0.0.1:9944'))
  t.ok(originAllowed([], 'http://localhost:9944', 'localhost:9944'))
  t.ok(originAllowed([], 'http://[::1]:9944', '[::1]:9944'))
  t.notOk(originAllowed([], 'http://evil.example:9944', 'evil.example:9944'), 'a DNS name could be a rebinding: only configured origins')
  t.notOk(originAllowed([], 'http://127.0.0.1:8080', '127.0.0.1:9944'), 'another port is another origin')
  t.notOk(originAllowed([], 'http://evil.example', '127.0.0.1:9944'))
  t.ok(originAllowed(['https://wallet.example'], 'https://wallet.example', '127.0.0.1:9944'))
  t.ok(originAllowed('*', 'http://anything', undefined))
})

t.test('the explorer site holds exactly its files, with content types', async (t) => {
  const site = loadExplorerSite()
  for (const name of EXPLORER_FILES) t.ok(site.file(`/${name}`)?.body.length, name)
  t.match(site.file('/index.html')?.contentType, /^text\/html/)
  t.match(site.file('/app.js')?.contentType, /^text\/javascript/)
  for (const path of ['/../package.json', '/site.ts', '/', '/index.html/', '/%2e%2e/node.ts']) t.equal(site.file(path), undefined, path)
})
