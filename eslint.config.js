// Lint rules beyond the type checker: the habits of STYLE.md and what the pure folders may not
// touch. The direction of imports between folders is checked by test/architecture/layering.test.ts.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// consensus/*.ts is the state machine and its wire types; consensus/driver/ does the IO
// Terminal programs print their output with console (ARCHITECTURE.md "Output"): the `openledger`
// command, the benchmarks and the scripts (npm run chaos); tests may too. Everything else is code
// the node runs and logs through lib/logger.ts.
const terminalPrograms = ['cli/**', 'bench/**', 'scripts/**']
const pureFolders = ['runtime/**/*.ts', 'genesis/**/*.ts', 'attribution/**/*.ts', 'ml/**/*.ts', 'consensus/*.ts']
const ioModules = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:worker_threads', 'level', 'classic-level', 'ws', 'libp2p']

export default tseslint.config(
  { ignores: ['node_modules/**', '.tap/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    // the explorer's browser modules (served as they are, no build)
    files: ['node/explorer/public/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { window: 'readonly', document: 'readonly', location: 'readonly', WebSocket: 'readonly', setTimeout: 'readonly', console: 'readonly' },
    },
  },
  {
    files: ['**/*.ts'],
    ignores: [...terminalPrograms, 'test/**', '**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['consensus/**/*.ts', 'node/chain/**/*.ts', 'node/consensus/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'wall-clock time enters consensus and block building through the Clock port (consensus/clock.ts)' }],
    },
  },
  {
    files: pureFolders,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ioModules.map((name) => ({ name, message: 'the pure folders (runtime, genesis, ml, attribution, the consensus state machine) do no IO' })) }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'time enters the runtime as data' },
        { object: 'Math', property: 'random', message: 'randomness enters the runtime as data' }],
    },
  },
)
