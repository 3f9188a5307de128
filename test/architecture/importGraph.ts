// The folder layering of ARCHITECTURE.md as a check: every import of every source file, resolved to
// the folder it lands in, must run with the direction
//
//   cli → node → {consensus, p2p, attribution → ml} → genesis → runtime → lib
//
// (an import may skip layers downwards, never go up or sideways), and neither the folders nor the
// parts inside a folder (its subfolders and its root files) may import each other in a loop; code
// outside a runtime module reaches it through its index.ts only.
// `checkImportGraph` reads a tree from disk; the layering test runs it on the project and on a
// fixture with a back edge.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** What each layer may import, besides itself (`lib` imports nothing of ours). */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  lib: [],
  runtime: ['lib'],
  genesis: ['runtime', 'lib'],
  ml: ['runtime', 'lib'],
  attribution: ['ml', 'runtime', 'lib'],
  consensus: ['runtime', 'lib'],
  p2p: ['runtime', 'lib'],
  node: ['consensus', 'p2p', 'attribution', 'ml', 'genesis', 'runtime', 'lib'],
  cli: ['node', 'consensus', 'p2p', 'attribution', 'ml', 'genesis', 'runtime', 'lib'],
}

/** Folders outside the layering (they may import anything, nothing imports them). */
const UNLAYERED = new Set(['test', 'bench', 'scripts', 'node_modules'])

export interface ImportEdge {
  /** importing file, relative to the root, `/`-separated */
  from: string
  /** imported file, relative to the root */
  to: string
}

export interface ImportGraphReport {
  files: number
  edges: ImportEdge[]
  /** imports against the direction: "runtime/x.ts → node/y.ts (runtime may import lib)" */
  violations: string[]
  /** loops between the children of one folder (subfolders and files), at any depth: "node/chain ↔ node/mempool" */
  cycles: string[]
  /** imports of a runtime module's inner file from outside the module: "node/x.ts → runtime/modules/fees/gas.ts (through runtime/modules/fees/index.ts)" */
  moduleBypasses: string[]
}

/**
 * A runtime module is used through its index.ts only, so that what a module offers is one list
 * and its other files can move: the module folder an import of an inner file reaches from outside,
 * or undefined.
 */
function bypassedModule(from: string, to: string): string | undefined {
  const match = /^(runtime\/modules\/[^/]+)\/(.+)$/.exec(to)
  if (match === null || match[2] === 'index.ts') return undefined
  const module = match[1] as string
  return from.startsWith(`${module}/`) ? undefined : module
}

function sourceFiles(root: string, dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sourceFiles(root, path, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, path).split(sep).join('/'))
  }
  return out
}

/** The relative imports of a file (static, type-only, re-exports and dynamic), resolved against the root. */
function importsOf(root: string, file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true)
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(root, resolve(root, dirname(file), specifier)).split(sep).join('/'))
}

const layerOf = (file: string): string => file.split('/')[0] ?? ''

/**
 * The two siblings an import links: below the deepest folder both files share, the child of that
 * folder holding each (`node/chain/chain.ts → node/mempool/mempool.ts` links `node/chain` and
 * `node/mempool`; `node/node.ts → node/chain/chain.ts` links `node/node.ts` and `node/chain`).
 */
function siblings(from: string, to: string): [string, string] {
  const a = from.split('/')
  const b = to.split('/')
  let shared = 0
  while (shared < a.length - 1 && shared < b.length - 1 && a[shared] === b[shared]) shared++
  return [a.slice(0, shared + 1).join('/'), b.slice(0, shared + 1).join('/')]
}

/** Every cycle's members, one line per strongly connected component with more than one node (Tarjan). */
function cyclesIn(graph: Map<string, Set<string>>): string[] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[] = []
  const visit = (node: string): void => {
    index.set(node, counter)
    low.set(node, counter++)
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number))
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node) as number, index.get(next) as number))
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop() as string
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1) out.push(component.sort().join(' ↔ '))
    }
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node)
  return out
}

/** Checks the tree under `root` (the layers that exist there; a missing layer is no error). */
export function checkImportGraph(root: string): ImportGraphReport {
  const files: string[] = []
  for (const layer of Object.keys(ALLOWED_IMPORTS)) {
    try {
      if (statSync(join(root, layer)).isDirectory()) sourceFiles(root, join(root, layer), files)
    } catch {
      // the layer does not exist in this tree
    }
  }
  const edges: ImportEdge[] = []
  const violations: string[] = []
  const moduleBypasses: string[] = []
  const graph = new Map<string, Set<string>>()
  const link = (a: string, b: string): void => {
    if (a === b) return
    let set = graph.get(a)
    if (set === undefined) graph.set(a, (set = new Set()))
    set.add(b)
  }
  for (const from of files.sort()) {
    const fromLayer = layerOf(from)
    for (const to of importsOf(root, from)) {
      const toLayer = layerOf(to)
      if (UNLAYERED.has(toLayer) && toLayer !== 'node_modules') {
        violations.push(`${from} → ${to} (${fromLayer} may not import ${toLayer}/)`)
        continue
      }
      edges.push({ from, to })
      if (toLayer !== fromLayer) {
        const allowed = ALLOWED_IMPORTS[fromLayer] ?? []
        if (!allowed.includes(toLayer)) violations.push(`${from} → ${to} (${fromLayer} may import ${allowed.length === 0 ? 'nothing of ours' : allowed.join(', ')})`)
      }
      const bypassed = bypassedModule(from, to)
      if (bypassed !== undefined) moduleBypasses.push(`${from} → ${to} (through ${bypassed}/index.ts)`)
      const [a, b] = siblings(from, to)
      link(a, b)
    }
  }
  return { files: files.length, edges, violations, cycles: cyclesIn(graph), moduleBypasses }
}
