// The RPC contract (node/rpc/contract.ts) as a check: a call of a method the contract lists must
// take its result type from the contract, so nobody declares a view by hand again. Flags, in every
// TypeScript file of the tree (tests and benches too: they read the same views):
//   - `x.call<T>('method', …)`: an explicit result type on a contract method (any call naming the
//     method in a string argument: a wrapper's `rpc<T>(url, 'method')` too; a wrapper takes
//     `M extends RpcMethodName` and answers `RpcResult<M>`);
//   - `(await x.call('method', …)) as T` (or without await): a cast of its result.
// The contract's method names are read from its `RpcContract` interface.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import ts from 'typescript'

const SKIP = new Set(['node_modules', '.git', 'fixtures'])

/** The method names of `interface RpcContract` in the contract file. */
export function contractMethods(contractFile: string): Set<string> {
  const source = ts.createSourceFile(contractFile, readFileSync(contractFile, 'utf8'), ts.ScriptTarget.Latest, true)
  const names = new Set<string>()
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== 'RpcContract') return
    for (const member of node.members) {
      if (member.name !== undefined && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name))) names.add(member.name.text)
    }
  })
  return names
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    if (SKIP.has(entry) || entry.startsWith('.')) continue
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) yield* sourceFiles(path)
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) yield path
  }
}

/** A call naming a contract method in a string argument (`x.call('method', …)`, a wrapper's `rpc(url, 'method')`): the method, else undefined. */
function contractCall(node: ts.Node, methods: ReadonlySet<string>): string | undefined {
  if (!ts.isCallExpression(node)) return undefined
  for (const argument of node.arguments) if (ts.isStringLiteralLike(argument) && methods.has(argument.text)) return argument.text
  return undefined
}

function unwrap(node: ts.Expression): ts.Expression {
  let inner = node
  while (ts.isParenthesizedExpression(inner) || ts.isAwaitExpression(inner)) inner = inner.expression
  return inner
}

/** Hand-declared views of contract methods under `root`, as `file:line method (how)`. */
export function handDeclaredViews(root: string, contractFile = join(root, 'node/rpc/contract.ts')): string[] {
  const methods = contractMethods(contractFile)
  const found: string[] = []
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8')
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const where = (node: ts.Node): string => `${relative(root, file).split(sep).join('/')}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`
    const visit = (node: ts.Node): void => {
      const method = contractCall(node, methods)
      if (method !== undefined && (node as ts.CallExpression).typeArguments !== undefined) found.push(`${where(node)} ${method} (a result type given)`)
      if (ts.isAsExpression(node) && !(ts.isTypeReferenceNode(node.type) && node.type.typeName.getText(source) === 'const')) {
        const cast = contractCall(unwrap(node.expression), methods)
        if (cast !== undefined) found.push(`${where(node)} ${cast} (its result cast)`)
      }
      node.forEachChild(visit)
    }
    visit(source)
  }
  return found
}
