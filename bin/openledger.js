#!/usr/bin/env node
// The `openledger` command. Node 24 runs the TypeScript sources directly (type stripping); the
// project brings Node 24 as a dependency, so `npx openledger` and npm scripts always get it.
const [major] = process.versions.node.split('.').map(Number)
if (major < 24) {
  process.stderr.write(`openledger needs Node.js 24 (this is ${process.version}). Run it as \`npx openledger …\` from the project folder: the project brings its own Node 24.\n`)
  process.exit(1)
}
await import('../cli/main.ts')
