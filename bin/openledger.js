#!/usr/bin/env node
// The `openledger` command. Node 24 runs the TypeScript sources directly (type stripping); the
// project brings Node 24 as a dependency, so `npx openledger` and npm scripts always get it.
const [major] = process.versions.node.split('.').map(Number)
if (major < 24) {
  process.stderr.write(`openledger needs Node.js 24 (this is ${process.version}). Run it as \`npx openledger …\` from the project folder: the project brings its own Node 24.\n`)
  process.exit(1)
}
// Node caches each module's type-stripped source and compiled code on disk (keyed by content), so a
// command or node start after the first skips stripping and compiling ~150 files (about 1 s of CPU
// for a node start, half the cost of a short command). Worker threads and child processes
// inherit the directory through the environment. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const { enableCompileCache } = await import('node:module')
const cache = enableCompileCache()
if (cache.directory !== undefined) process.env.NODE_COMPILE_CACHE = cache.directory
await import('../cli/main.ts')
