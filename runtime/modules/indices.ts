// Module indices: the first byte of every call, event, error and storage key. Permanent.
export const ModuleIndex = {
  system: 0,
  balances: 1,
  fees: 2,
  staking: 3,
  datanets: 4,
  models: 5,
  inference: 6,
  attribution: 7,
  governance: 8,
  treasury: 9,
} as const
export type ModuleIndex = (typeof ModuleIndex)[keyof typeof ModuleIndex]
