// Every command of `openledger`, in the order `--help` lists them. A command's module is imported
// only when it runs, so `openledger keys list` or `tx transfer` does not pay for loading libp2p,
// LevelDB and onnxruntime the node commands need.
import type { Command } from '../io.ts'

export interface CommandEntry {
  name: string
  summary: string
  load(): Promise<Command>
}

export const commands: CommandEntry[] = [
  { name: 'dev', summary: 'Run a single-validator development chain (blocks final at once, dev accounts funded)', load: async () => (await import('./dev.ts')).devCommand },
  { name: 'start', summary: 'Run a validator or full node from a configured home (see testnet init)', load: async () => (await import('./start.ts')).startCommand },
  { name: 'testnet', summary: 'Create and run a local multi-validator testnet', load: async () => (await import('./testnet.ts')).testnetCommand },
  { name: 'tx', summary: 'Sign and send a transaction: transfer, remark, staking, or any module call', load: async () => (await import('./tx.ts')).txCommand },
  { name: 'datanet', summary: 'Datanets: create, contribute data, review, accept/reject, publish versions, prove inclusion', load: async () => (await import('./datanet.ts')).datanetCommand },
  { name: 'model', summary: 'ModelFactory: base models, LoRA training jobs, published models and their lineage', load: async () => (await import('./model/index.ts')).modelCommand },
  { name: 'gov', summary: 'Governance: propose, deposit, vote, show and list proposals, tallies, governable parameters', load: async () => (await import('./gov/index.ts')).govCommand },
  { name: 'serve', summary: 'Serve the chain\'s models and published adapters over an OpenAI-compatible API (OpenLoRA)', load: async () => (await import('./serve.ts')).serveCommand },
  { name: 'infer', summary: 'Stream a completion from a serving endpoint, or pay a provider on chain for one (--onchain)', load: async () => (await import('./infer.ts')).inferCommand },
  { name: 'provider', summary: 'Inference market providers: register, update, unbond, withdraw, status', load: async () => (await import('./market.ts')).providerCommand },
  { name: 'channel', summary: 'Payment channels to a provider: open, top up, close, status', load: async () => (await import('./market.ts')).channelCommand },
  { name: 'apikey', summary: 'Spending-capped API keys for OpenAI clients of a provider: create, revoke, status', load: async () => (await import('./market.ts')).apikeyCommand },
  { name: 'attribution', summary: 'Proof of Attribution: show an inference record\'s receipt and payouts, verify a payout against a finalized header', load: async () => (await import('./attribution.ts')).attributionCommand },
  { name: 'rewards', summary: 'Data contributors\' attribution rewards: show, claim', load: async () => (await import('./attribution.ts')).rewardsCommand },
  { name: 'adapters', summary: 'Adapters of a serving endpoint: list, pin, unpin', load: async () => (await import('./adapters.ts')).adaptersCommand },
  { name: 'light', summary: 'A light client trusting only the genesis: verify headers by commit certificates, prove balances', load: async () => (await import('./light.ts')).lightCommand },
  { name: 'query', summary: 'Read balances, accounts, blocks, transactions and receipts from a node', load: async () => (await import('./query.ts')).queryCommand },
  { name: 'keys', summary: 'Manage the encrypted keystore: generate, import, list, inspect', load: async () => (await import('./keys.ts')).keysCommand },
  { name: 'genesis', summary: 'Build, inspect and validate chain specs (the genesis hash identifies a chain)', load: async () => (await import('./genesis.ts')).genesisCommand },
  { name: 'bench', summary: 'Run the benchmarks: signatures, state transition, state root, dev chain, BFT network, blobs, model forward pass, training', load: async () => (await import('./bench.ts')).benchCommand },
]
