// The RPC contract: for each method the node serves, its parameters and the JSON view it answers
// with. The server's handlers are checked against it (`defineMethod` in registry.ts), and the
// clients' `call` infers its result from it (client.ts), so the CLI, the tests and the benches
// read the same shapes the server writes; nobody declares a view by hand.
//
// Views of chain objects are derived from the runtime's schemas (`Json<T>` of runtime/codec/schema.ts:
// hashes and bytes as 0x-hex, amounts as decimal strings, absent as null); a view only names what it
// adds or renders differently (a status code as its name, a learning rate as a number).
//
// A new method adds its entry here, next to the others of its namespace. Every method the node
// serves is listed; a client calls one without naming a result type (test/architecture checks it).
import type { Json } from '../../runtime/codec/schema.ts'
import type { StakingParams } from '../../runtime/modules/staking/index.ts'
import type { Contribution, ContributionStatus, Datanet, DatanetVersion, FormatName } from '../../runtime/modules/datanets/index.ts'
import type { BaseModel, Hyperparameters, Job, JobStatus, ModelConfig, ModelsParams, ModelVersion } from '../../runtime/modules/models/index.ts'
import type { Attribution, AttributionParams, AttributionStatus, Method, Penalty } from '../../runtime/modules/attribution/index.ts'
import type {
  ApiKey, ApiKeyStatus, Channel, ChannelStatus, Check, CheckStatus, InferenceParams, InferenceRecord, InferenceRequest, Provider, ProviderStatus, RecordStatus, RequestStatus, Verdict,
} from '../../runtime/modules/inference/index.ts'
import type { PROPOSAL_KIND_NAMES, PROPOSAL_STATUS_NAMES, ProposalContent, Tally, VOTE_OPTION_NAMES } from '../../runtime/modules/governance/index.ts'

/** 0x-prefixed hex */
export type Hex = string
/** an amount in base units as a decimal string */
export type AmountString = string

// ---------------------------------------------------------------------------------------------
// chain, transactions, receipts

export interface HeaderView {
  hash: Hex
  number: number
  parentHash: Hex
  timestamp: number
  chainId: number
  author: Hex
  proposer: Hex
  txRoot: Hex
  stateRoot: Hex
  receiptsRoot: Hex
  validatorsHash: Hex
  nextValidatorsHash: Hex
  lastCommitHash: Hex
  evidenceHash: Hex
  gasUsed: number
  baseFeePerGas: AmountString
  /** the proposer's reveal for the randomness beacon */
  randomnessReveal: Hex
}

/**
 * An event decoded by its module's schema (a struct: its fields by name; null if it does not
 * decode); an event of a module this node does not know keeps its indices.
 */
export type EventView = { module: string; event: string; data: Record<string, unknown> | null } | { module: number; event: number; data?: undefined }

export type CallView = { module: string; call: string; args: unknown } | { module: number; call: number; args?: undefined }

export interface TransactionView {
  hash: Hex
  from: Hex | null
  chainId: number
  nonce: number
  gasLimit: number
  maxFeePerGas: AmountString
  maxPriorityFeePerGas: AmountString
  call: CallView
  signature: Hex
}

export type TransactionStatusView = TransactionView & (
  | { status: 'pending'; blockHash: null; blockNumber: null; index: null }
  | { status: 'included'; blockHash: Hex; blockNumber: number; index: number }
)

export interface ReceiptView {
  transactionHash: Hex
  blockHash: Hex
  blockNumber: number
  index: number
  status: 'success' | 'failed'
  gasUsed: number
  fee: AmountString
  /** `module.ErrorName` of a failed call */
  error: string | null
  events: EventView[]
}

/**
 * A signed transaction simulated on the head state (nothing is written, no fee is paid):
 * `invalid` — it would not enter a block (error is the InvalidTransaction code);
 * `failed`  — it would be included, pay its fee and change nothing else (error is `module.Error`);
 * `success` — its events and gas as a block would record them.
 * A nonce ahead of the account's (transactions still pending) is simulated as if it were next.
 */
export interface DryRunView {
  status: 'success' | 'failed' | 'invalid'
  error: string | null
  message: string | null
  gasUsed: number
  fee: AmountString
  events: EventView[]
}

export interface AccountView {
  address: Hex
  nonce: number
  nextNonce: number
  free: AmountString
  locked: AmountString
  spendable: AmountString
  vesting: { total: AmountString; cliffEnd: number; end: number } | null
}

export interface FeeEstimateView {
  baseFeePerGas: AmountString
  suggestedMaxPriorityFeePerGas: AmountString
  suggestedMaxFeePerGas: AmountString
  /** the transaction's gas (intrinsic + the call's weight), when one was given */
  gas: number | null
  estimatedFee: AmountString | null
  intrinsicGasPerTx: number
}

export interface ConsensusStateView {
  mode: 'dev' | 'validator' | 'follower'
  height: number
  round?: number
  step?: string
  lockedRound?: number
  validRound?: number
  proposer?: Hex | null
  validators?: Array<{ publicKey: Hex; power: AmountString; operator: Hex | null }>
  totalPower?: AmountString
}

export interface PropertiesView {
  tokenSymbol: string
  tokenDecimals: number
  chainId: number
  specId: string
  treasuryAccount: Hex
  ecosystemPoolAccount: Hex
}

export interface HealthView {
  peers: number
  isSyncing: boolean
  shouldHavePeers: boolean
  storage: { status: 'ok' | 'low' | 'failed'; freeBytes: number | null; error?: string }
  clockOffsetMs: number | null
  clockSkewed: boolean
}

/** one block as the explorer lists it (openledger_getBlockSummaries); timestamp in ms */
export interface BlockSummaryView {
  number: number
  hash: Hex
  timestamp: number
  author: Hex
  gasUsed: number
  baseFeePerGas: AmountString
  txCount: number
  /** with `transactions` asked for */
  transactions?: Array<{ hash: Hex; from: Hex | null; call: CallView }>
}

/**
 * What a light client checks itself (consensus/lightClient.ts): the header, the commit
 * certificate and the validator set that signed it, as the hex of the bytes they are hashed in.
 */
export interface LightBlockView {
  height: number
  hash: Hex
  header: Hex
  commit: Hex
  validators: Hex
}

/** the randomness beacon's mix after block `height`; the proposer and its reveal at the head */
export interface RandomnessView {
  height: number
  mix: Hex
  lookahead: number
  history: number
  proposer?: Hex
  randomnessReveal?: Hex
}

export interface ReadProofView {
  at: Hex
  number: number
  stateRoot: Hex
  proofs: Array<{ key: Hex; value: Hex | null; proof: Hex }>
}

// ---------------------------------------------------------------------------------------------
// datanets

export type ContributionStatusName = keyof typeof ContributionStatus

export type DatanetView = Omit<Json<Datanet>, 'visibility'> & {
  visibility: 'public' | 'private'
  /** the accepted formats by name (rules.formats holds their codes) */
  formats: Array<FormatName | number>
}

export type ContributionView = Omit<Json<Contribution>, 'status' | 'format'> & {
  status: ContributionStatusName | number
  format: FormatName | number
}

export type DatanetVersionView = Json<DatanetVersion> & {
  /** the version record's state key, for state_getReadProof */
  stateKey: Hex
}

export interface ContributionProofView {
  datanet: number
  contribution: number
  version: number
  root: Hex
  position: number
  leaf: Hex
  siblings: Hex[]
  record: ContributionView
  versionStateKey: Hex
}

// ---------------------------------------------------------------------------------------------
// ModelFactory

export type BaseModelView = Omit<Json<BaseModel>, 'kind'> & {
  kind: 'lm' | 'classifier'
  /** the parsed architecture; null if it does not parse (never for a registered model) */
  config: ModelConfig | null
}

export type JobRole = 'trainer' | 'verifier' | 'arbiter'
export type JobPhase = 'queued' | 'fetching' | 'training' | 'evaluating' | 'computed' | 'submitted' | 'attested' | 'failed'

/** This node's own progress on a job it works on (node/models/trainingService.ts). */
export interface JobProgress {
  job: number
  role: JobRole
  phase: JobPhase
  step: number
  steps: number
  loss?: number
  trainSize?: number
  heldOutSize?: number
  error?: { code: string; message: string }
  outcome?: { weightsHash: string; checkpointRoot: string; baseLoss: number; adaptedLoss: number; baseAccuracy?: number; adaptedAccuracy?: number }
}

export type HyperparametersView = Json<Hyperparameters> & { learningRate: number }

export type JobView = Omit<Json<Job>, 'hyper' | 'status' | 'phase'> & {
  hyper: HyperparametersView
  status: keyof typeof JobStatus | number
  phase: 'commit' | 'reveal'
}

/** A job with this node's progress on it (openledger_getTrainingJob) */
export type JobDetailView = JobView & { progress: JobProgress | null }

export interface ModelLineageView {
  baseModel: { id: number; name: string | null; weightsHash: Hex; artifact: Hex | null; tokenizer: string | null }
  datanets: Array<{ datanet: number; version: number; root: Hex }>
  hyperparameters: HyperparametersView
  engineVersion: string
  job: number
  checkpointRoot: Hex
}

export type ModelVersionView = Json<ModelVersion> & {
  lineage: ModelLineageView
  evaluation: { baseLoss: number; adaptedLoss: number; lossGain: number; baseAccuracy?: number; adaptedAccuracy?: number }
}

// ---------------------------------------------------------------------------------------------
// staking

export interface ValidatorSetView {
  effectiveHeight: number
  epoch: number
  totalPower: number
  validators: Array<{ operator: Hex; consensusKey: Hex; power: number }>
}

export interface ValidatorView {
  operator: Hex
  consensusKey: Hex
  status: 'bonded' | 'jailed' | 'unbonded'
  inActiveSet: boolean
  inNextSet: boolean
  power: AmountString
  tokens: AmountString
  selfBond: AmountString
  delegatorShares: string
  commissionBps: number
  commissionEpoch: number
  jailed: boolean
  jailedUntil: number
  slashed: AmountString
  missedBlocks: number
  unclaimedCommission: AmountString
  outstandingRewards: AmountString
  createdHeight: number
  /** its randomness beacon hash chain in force (tip, values left, seed generation); null: it reveals nothing */
  beacon: { tip: Hex; remaining: number; generation: number } | null
  /** a chain it registered (setBeaconChain) that comes into force at effectiveHeight */
  beaconRotation: { tip: Hex; remaining: number; generation: number; effectiveHeight: number } | null
}

export interface ValidatorsView {
  height: number
  active: ValidatorSetView | null
  next: ValidatorSetView | null
  validators: ValidatorView[]
}

export interface StakingInfoView {
  height: number
  params: Json<StakingParams>
  epoch: { index: number; startHeight: number; nextBoundary: number }
  activeSet: { effectiveHeight: number; epoch: number; size: number } | null
  nextSet: ValidatorSetView | null
  validatorCount: number
  totals: { bonded: AmountString; unbonding: AmountString; unclaimedRewards: AmountString }
}

export interface DelegationView {
  delegator: Hex
  validator: Hex
  shares: string
  amount: AmountString
  pendingRewards: AmountString
  unbonding: Array<{ amount: AmountString; initialAmount: AmountString; creationHeight: number; completionHeight: number }>
}

// ---------------------------------------------------------------------------------------------
// blobs (chunked upload and download; chunk data as base64)

export interface BlobUploadView { uploadId: string; chunkBytes: number; chunks: number }
export interface BlobInfoView { cid: Hex; size: number; chunks: number; chunkBytes: number; refs: number }
export interface BlobChunkView { size: number; index: number; data: string; siblings: Hex[] }

// ---------------------------------------------------------------------------------------------
// inference market

export type ProviderView = Omit<Json<Provider>, 'status'> & { status: keyof typeof ProviderStatus | number }
export type InferenceRequestView = Omit<Json<InferenceRequest>, 'status'> & { status: keyof typeof RequestStatus | number }
export type InferenceRecordView = Omit<Json<InferenceRecord>, 'source' | 'status'> & { source: 'request' | 'channel' | 'apiKey' | number; status: keyof typeof RecordStatus | number }
export type InferenceCheckView = Omit<Json<Check>, 'status' | 'phase' | 'votes'> & {
  status: keyof typeof CheckStatus | number
  phase: 'commit' | 'reveal'
  votes: Array<Omit<Json<Check>['votes'][number], 'verdict'> & { verdict: keyof typeof Verdict | number }>
}
export interface SettleView {
  channels: number
  inferences: number
  tx?: Hex
  finalized: boolean
  /** API keys charged (chargeApiKey, one transaction each) and their inferences */
  keys?: number
  keyInferences?: number
}
export type ApiKeyView = Omit<Json<ApiKey>, 'status'> & { status: keyof typeof ApiKeyStatus | number; left: AmountString }
export type ChannelView = Omit<Json<Channel>, 'status'> & { status: keyof typeof ChannelStatus | number; balance: AmountString }

// ---------------------------------------------------------------------------------------------
// attribution

type ReceiptJson = NonNullable<Json<Attribution>['receipt']>
export type AttributionView = Omit<Json<Attribution>, 'status' | 'receipt'> & {
  status: keyof typeof AttributionStatus | number
  receipt: (Omit<ReceiptJson, 'method'> & { method: keyof typeof Method | number | undefined }) | null
}
export type PenaltyView = { datanet: number; index: number } & Json<Penalty>
export interface RewardView { address: Hex; accrued: AmountString; claimed: AmountString }
/** one final record that credited an address (openledger_listRewards): its credited contributions, scores and amounts */
export interface RewardCreditView { record: number; amount: AmountString; contributions: Array<{ datanet: number; index: number; score: number; amount: AmountString }> }
/** a contribution holding a cited span */
export interface CitationSource { datanet: number; version: number; contribution: number; occurrences: number }
/** a span of an output found in its lineage's training data (node/attribution/citations.ts) */
export interface Citation {
  /** output token offsets [start, end) */
  start: number
  end: number
  text: string
  /** occurrences in the lineage's corpora */
  count: number
  /** the span's weight in bits (its Q16 weight / 2^16): longer and rarer spans weigh more */
  bits: number
  sources: CitationSource[]
  /** every source holding it (sources lists at most MAX_CITATION_SOURCES) */
  sourceCount: number
}
/** an output's spans in its lineage's training data */
export interface CitationsView { lineage: Array<{ datanet: number; version: number }>; tokens: number; citations: Citation[] }
export interface PayoutProofView {
  record: number
  contributor: Hex
  amount: AmountString
  contributions: Array<{ datanet: number; index: number; amount: AmountString }>
  at: Hex
  number: number
  stateRoot: Hex
  key: Hex
  value: Hex
  proof: Hex
}

// ---------------------------------------------------------------------------------------------
// governance and the treasury

export type TallyView = Json<Tally>
type ProposalKindName = (typeof PROPOSAL_KIND_NAMES)[number]
export interface ProposalView {
  id: number
  proposer: Hex
  kind: ProposalKindName | number
  status: (typeof PROPOSAL_STATUS_NAMES)[number] | number
  content: Omit<Json<ProposalContent>, 'kind'> & { kind: ProposalKindName | number }
  submitHeight: number
  depositEnd: number
  votingStart: number | null
  votingEnd: number | null
  enactHeight: number | null
  totalDeposit: AmountString
  tally: TallyView | null
}
export type ProposalDetailView = ProposalView & { deposits: Array<{ depositor: Hex; amount: AmountString }>; currentTally: TallyView | null }
export interface VotesView {
  proposal: number
  total: number
  votes: Array<{ index: number; voter: Hex; option: (typeof VOTE_OPTION_NAMES)[number] | number; validators: Hex[]; height: number }>
}
export interface ModuleParamsView {
  module: string
  params: Array<{ name: string; type: string; min: string; max: string; default: string | number | boolean; value: string | number | boolean; description: string }>
}
export interface TreasuryView {
  height: number
  account: Hex
  balance: AmountString
  governanceEscrow: { account: Hex; balance: AmountString }
  scheduledUpgrade: { proposal: number; height: number; version: string } | null
}

// ---------------------------------------------------------------------------------------------
// peers

export interface PeerView { peerId: string; addresses: string[]; direction: string; score: number; connectedSince: number }
export interface SyncStateView { startingBlock: number; currentBlock: number; highestBlock: number; finalizedBlock: number }

// ---------------------------------------------------------------------------------------------
// Ethereum JSON-RPC (node/api/ethViews.ts): quantities as 0x-hex without leading zeros

/** 0x-hex quantity, e.g. '0x1a' */
export type Quantity = string

export interface EthFeeHistoryView {
  oldestBlock: Quantity
  baseFeePerGas: Quantity[]
  gasUsedRatio: number[]
  /** with percentiles asked for: each block's tips at them */
  reward?: Quantity[][]
}

export interface EthLogView {
  address: Hex
  topics: Hex[]
  data: Hex
  blockNumber: Quantity
  blockHash: Hex
  transactionHash: Hex | null
  transactionIndex: Quantity | null
  logIndex: Quantity
  removed: false
}

export interface EthTransactionView {
  type: Quantity
  hash: Hex
  blockHash: Hex | null
  blockNumber: Quantity | null
  transactionIndex: Quantity | null
  from: Hex | null
  to: Hex
  value: Quantity
  input: Hex
  nonce: Quantity
  gas: Quantity
  gasPrice: Quantity
  chainId: Quantity
  v: Quantity
  r: Quantity
  s: Quantity
  /** typed transactions (EIP-1559 and native) */
  maxFeePerGas?: Quantity
  maxPriorityFeePerGas?: Quantity
  accessList?: []
  yParity?: Quantity
}

export interface EthReceiptView {
  type: Quantity
  transactionHash: Hex
  transactionIndex: Quantity
  blockHash: Hex
  blockNumber: Quantity
  from: Hex | null
  to: Hex
  cumulativeGasUsed: Quantity
  gasUsed: Quantity
  effectiveGasPrice: Quantity
  contractAddress: null
  logs: EthLogView[]
  logsBloom: Hex
  status: '0x1' | '0x0'
}

export interface EthBlockView {
  number: Quantity
  hash: Hex
  parentHash: Hex
  nonce: Hex
  sha3Uncles: Hex
  logsBloom: Hex
  transactionsRoot: Hex
  stateRoot: Hex
  receiptsRoot: Hex
  miner: Hex
  difficulty: Quantity
  totalDifficulty: Quantity
  extraData: Hex
  size: Quantity | undefined
  gasLimit: Quantity
  gasUsed: Quantity
  timestamp: Quantity
  baseFeePerGas: Quantity
  mixHash: Hex
  uncles: []
  /** hashes, or the transactions themselves when asked for in full */
  transactions: Hex[] | EthTransactionView[]
}

// ---------------------------------------------------------------------------------------------
// the methods

type Maybe<T> = T | null | undefined

/** method name → its positional parameters (as a client sends them) and its result */
export interface RpcContract {
  chain_getHeader: { params: [hash?: Maybe<Hex>]; result: HeaderView | null }
  chain_getBlock: { params: [hash?: Maybe<Hex>]; result: { block: { header: HeaderView; extrinsics: Hex[] }; justifications: null } | null }
  chain_getBlockHash: { params: [number?: Maybe<number>]; result: Hex | null }
  chain_getFinalizedHead: { params: []; result: Hex }
  author_submitExtrinsic: { params: [extrinsic: Hex]; result: Hex }
  /** the ready transactions in block order, at most 1,000 */
  author_pendingExtrinsics: { params: []; result: Hex[] }
  openledger_getBlockSummaries: { params: [from?: Maybe<number>, count?: Maybe<number>, transactions?: Maybe<boolean>]; result: BlockSummaryView[] }
  openledger_getLightBlock: { params: [height?: Maybe<number>]; result: LightBlockView | null }
  openledger_getRandomness: { params: [height?: Maybe<number>]; result: RandomnessView }
  openledger_consensusState: { params: []; result: ConsensusStateView }
  openledger_getBalance: { params: [address: Hex]; result: AmountString }
  openledger_getAccount: { params: [address: Hex]; result: AccountView }
  openledger_getTransaction: { params: [hash: Hex]; result: TransactionStatusView | null }
  openledger_getReceipt: { params: [hash: Hex]; result: (ReceiptView & { finalized: boolean }) | null }
  openledger_getBlockEvents: { params: [block: Hex | number]; result: { blockHash: Hex; number: number; finalized: boolean; events: EventView[] } | null }
  openledger_getSupply: { params: []; result: { totalSupply: AmountString; totalIssuance: AmountString; burned: AmountString } }
  openledger_estimateFee: { params: [extrinsic?: Maybe<Hex>]; result: FeeEstimateView }
  openledger_dryRun: { params: [extrinsic: Hex]; result: DryRunView }
  openledger_getDatanet: { params: [datanet: number]; result: DatanetView | null }
  openledger_listDatanets: { params: [start?: Maybe<number>, count?: Maybe<number>]; result: DatanetView[] }
  openledger_getContribution: { params: [datanet: number, contribution: number]; result: ContributionView | null }
  openledger_listContributions: { params: [datanet: number, start?: Maybe<number>, count?: Maybe<number>]; result: ContributionView[] }
  openledger_listVersionContributions: { params: [datanet: number, version: number, start?: Maybe<number>, count?: Maybe<number>]; result: ContributionView[] }
  openledger_getDatanetVersion: { params: [datanet: number, version?: Maybe<number>]; result: DatanetVersionView | null }
  openledger_getContributionProof: { params: [datanet: number, contribution: number, version?: Maybe<number>]; result: ContributionProofView }
  openledger_getBaseModel: { params: [model: number]; result: BaseModelView | null }
  openledger_listBaseModels: { params: [start?: Maybe<number>, count?: Maybe<number>]; result: BaseModelView[] }
  openledger_getModelsParams: { params: []; result: Json<ModelsParams> }
  openledger_getTrainingJob: { params: [job: number]; result: JobDetailView | null }
  openledger_listTrainingJobs: { params: [start?: Maybe<number>, count?: Maybe<number>, owner?: Maybe<Hex>]; result: JobView[] }
  openledger_getTrainingProgress: { params: [job: number]; result: JobProgress | null }
  openledger_getModelVersion: { params: [model: number]; result: ModelVersionView | null }
  openledger_listModelVersions: { params: [start?: Maybe<number>, count?: Maybe<number>]; result: ModelVersionView[] }
  openledger_getValidators: { params: [at?: Maybe<Hex>]; result: ValidatorsView }
  openledger_getValidator: { params: [address: Hex, at?: Maybe<Hex>]; result: ValidatorView | null }
  openledger_getStakingInfo: { params: [at?: Maybe<Hex>]; result: StakingInfoView }
  openledger_getDelegation: { params: [delegator: Hex, validator: Hex, at?: Maybe<Hex>]; result: DelegationView | null }
  state_getStorage: { params: [key: Hex, at?: Maybe<Hex>]; result: Hex | null }
  state_getKeysPaged: { params: [prefix: Hex, count: number, startKey?: Maybe<Hex>]; result: Hex[] }
  state_getReadProof: { params: [keys: Hex[], at?: Maybe<Hex>]; result: ReadProofView }
  system_name: { params: []; result: string }
  system_version: { params: []; result: string }
  system_chain: { params: []; result: string }
  system_chainType: { params: []; result: 'Development' | 'Live' }
  system_properties: { params: []; result: PropertiesView }
  system_health: { params: []; result: HealthView }
  system_accountNextIndex: { params: [address: Hex]; result: number }
  system_peers: { params: []; result: PeerView[] }
  system_localPeerId: { params: []; result: string | null }
  system_blockPeer: { params: [peerId: string]; result: boolean }
  system_unblockPeer: { params: [peerId: string]; result: boolean }
  system_blockedPeers: { params: []; result: string[] }
  system_syncState: { params: []; result: SyncStateView }
  openledger_beginBlobUpload: { params: [size: number]; result: BlobUploadView }
  openledger_uploadBlobChunk: { params: [uploadId: string, index: number, data: string]; result: { received: number } }
  openledger_finishBlobUpload: { params: [uploadId: string, cid?: Maybe<Hex>, format?: Maybe<number>, rows?: Maybe<number>]; result: { cid: Hex; size: number } }
  openledger_abortBlobUpload: { params: [uploadId: string]; result: boolean }
  openledger_getBlobInfo: { params: [cid: Hex]; result: BlobInfoView | null }
  openledger_getBlobChunk: { params: [cid: Hex, index: number]; result: BlobChunkView }
  openledger_getProvider: { params: [address: Hex]; result: ProviderView | null }
  openledger_listProviders: { params: [count?: Maybe<number>, after?: Maybe<Hex>]; result: ProviderView[] }
  openledger_getInferenceRequest: { params: [request: number]; result: InferenceRequestView | null }
  openledger_getInferenceRecord: { params: [record: number]; result: InferenceRecordView | null }
  openledger_listInferenceRecords: { params: [start?: Maybe<number>, count?: Maybe<number>]; result: InferenceRecordView[] }
  openledger_getChannel: { params: [channel: number]; result: ChannelView | null }
  openledger_getApiKey: { params: [key: number]; result: ApiKeyView | null }
  openledger_getInferenceParams: { params: []; result: Json<InferenceParams> }
  openledger_getInferenceCheck: { params: [record: number]; result: InferenceCheckView | null }
  openledger_settleVouchers: { params: []; result: SettleView }
  openledger_getAttribution: { params: [record: number]; result: AttributionView | null }
  openledger_listAttributions: { params: [start?: Maybe<number>, count?: Maybe<number>]; result: AttributionView[] }
  openledger_getRewards: { params: [address: Hex]; result: RewardView }
  openledger_getPenalties: { params: [datanet: number, count?: Maybe<number>, after?: Maybe<number>]; result: PenaltyView[] }
  openledger_listRewards: { params: [address: Hex, count?: Maybe<number>, afterRecord?: Maybe<number>]; result: RewardCreditView[] }
  openledger_getCitations: { params: [base: number, adapters: number[], text: string]; result: CitationsView }
  openledger_getAttributionParams: { params: []; result: Json<AttributionParams> }
  openledger_getPayoutProof: { params: [record: number, contributor: Hex]; result: PayoutProofView }
  openledger_getProposal: { params: [proposal: number]; result: ProposalDetailView | null }
  openledger_listProposals: { params: [start?: Maybe<number>, count?: Maybe<number>, status?: Maybe<string>]; result: ProposalView[] }
  openledger_getVotes: { params: [proposal: number, start?: Maybe<number>, count?: Maybe<number>]; result: VotesView }
  openledger_getParams: { params: [module?: Maybe<string>]; result: { height: number; modules: ModuleParamsView[] } }
  openledger_getTreasury: { params: []; result: TreasuryView }
  eth_chainId: { params: []; result: Quantity }
  net_version: { params: []; result: string }
  net_listening: { params: []; result: boolean }
  eth_syncing: { params: []; result: boolean }
  eth_accounts: { params: []; result: Hex[] }
  eth_blockNumber: { params: []; result: Quantity }
  eth_getBalance: { params: [address: Hex, block?: Maybe<string>]; result: Quantity }
  eth_getTransactionCount: { params: [address: Hex, block?: Maybe<string>]; result: Quantity }
  eth_getCode: { params: [address: Hex, block?: Maybe<string>]; result: Hex }
  eth_gasPrice: { params: []; result: Quantity }
  eth_maxPriorityFeePerGas: { params: []; result: Quantity }
  eth_feeHistory: { params: [blockCount: number | Quantity, newest: string, percentiles?: Maybe<number[]>]; result: EthFeeHistoryView }
  eth_estimateGas: { params: [request: Record<string, unknown>, block?: Maybe<string>]; result: Quantity }
  eth_call: { params: [request: Record<string, unknown>, block?: Maybe<string>]; result: Hex }
  eth_sendRawTransaction: { params: [transaction: Hex]; result: Hex }
  eth_getTransactionByHash: { params: [hash: Hex]; result: EthTransactionView | null }
  eth_getTransactionReceipt: { params: [hash: Hex]; result: EthReceiptView | null }
  eth_getBlockByNumber: { params: [block: string, full: boolean]; result: EthBlockView | null }
  eth_getBlockByHash: { params: [hash: Hex, full: boolean]; result: EthBlockView | null }
  eth_getBlockTransactionCountByNumber: { params: [block: string]; result: Quantity | null }
  eth_getLogs: { params: [filter: Record<string, unknown>]; result: EthLogView[] }
}

export type RpcMethodName = keyof RpcContract
export type RpcResult<M extends RpcMethodName> = RpcContract[M]['result']
export type RpcParamsOf<M extends RpcMethodName> = RpcContract[M]['params']
