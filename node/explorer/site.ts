// The block explorer the node serves on its RPC port (GET `/`): plain HTML, CSS and JavaScript
// modules in `public/`, read once at start, nothing to build. The page talks JSON-RPC over the
// same port's WebSocket like any other client (see public/rpc.js); the server only hands out files.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StaticSite } from '../rpc/http.ts'

const PUBLIC = new URL('./public/', import.meta.url)
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
}
/** Every file of the site: nothing else is served, so no path from a request reaches the disk. */
export const EXPLORER_FILES = ['index.html', 'style.css', 'app.js', 'rpc.js', 'views.js', 'charts.js', 'format.js', 'inference.js'] as const

export function loadExplorerSite(): StaticSite {
  const files = new Map<string, { body: Buffer; contentType: string }>()
  for (const name of EXPLORER_FILES) {
    const extension = name.slice(name.lastIndexOf('.') + 1)
    files.set(`/${name}`, { body: readFileSync(fileURLToPath(new URL(name, PUBLIC))), contentType: TYPES[extension] ?? 'application/octet-stream' })
  }
  return { file: (path) => files.get(path) }
}
