#!/usr/bin/env node
// The `openledger` command. Node 24 runs the TypeScript sources directly (type stripping).
import '../cli/main.ts'
