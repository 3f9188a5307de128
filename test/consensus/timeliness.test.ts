// The proposer-based timestamps' rule at its boundaries: a block time exactly at either bound is
// timely, one millisecond beyond is not; parameters are checked; the skew rule and the median.
import t from 'tap'
import { checkedTimelinessParams, isClockSkewed, median, messageDelayInRound, proposalTimeliness } from '../../consensus/timeliness.ts'
import { DEFAULT_TIMELINESS, timelinessParamsProblem } from '../../runtime/consensusParams.ts'

const params = { precisionMs: 500, messageDelayMs: 3_000 }
const received = 1_767_225_600_000

t.test('a block time is timely within [receivedAt − precision − messageDelay, receivedAt + precision], bounds included', async (t) => {
  t.equal(proposalTimeliness(received, received, params), 'timely', 'at the receive time')
  t.equal(proposalTimeliness(received + 500, received, params), 'timely', 'exactly precision ahead')
  t.equal(proposalTimeliness(received + 501, received, params), 'tooEarly', '1 ms beyond precision ahead')
  t.equal(proposalTimeliness(received - 3_500, received, params), 'timely', 'exactly precision + messageDelay behind')
  t.equal(proposalTimeliness(received - 3_501, received, params), 'tooLate', '1 ms beyond precision + messageDelay behind')
  t.equal(proposalTimeliness(received + 30_000, received, params), 'tooEarly', '+30 s')
  t.equal(proposalTimeliness(received + 1_500 * 86_400_000, received, params), 'tooEarly', '+1,500 days')
  t.equal(proposalTimeliness(received - 30_000, received, params), 'tooLate', '−30 s')
  const zero = { precisionMs: 0, messageDelayMs: 0 }
  t.equal(proposalTimeliness(received, received, zero), 'timely', 'zero bounds: only the receive time itself')
  t.equal(proposalTimeliness(received + 1, received, zero), 'tooEarly')
  t.equal(proposalTimeliness(received - 1, received, zero), 'tooLate')
})

t.test('the lateness bound grows 10% a round (CometBFT\'s InRound); the earliness bound does not', async (t) => {
  t.equal(messageDelayInRound(params, 0), 3_000)
  t.equal(messageDelayInRound(params, 1), 3_300)
  t.equal(messageDelayInRound(params, 5), 4_831, '3,000 · 1.1^5, floored')
  t.equal(proposalTimeliness(received - 3_501, received, params, 0), 'tooLate', 'round 0: the base bound')
  t.equal(proposalTimeliness(received - 3_800, received, params, 1), 'timely', 'round 1: precision + 3,300 behind is timely')
  t.equal(proposalTimeliness(received - 3_801, received, params, 1), 'tooLate', '1 ms beyond it is not')
  t.equal(proposalTimeliness(received + 501, received, params, 20), 'tooEarly', 'ahead by more than precision is never timely')
  // a clock 30 s ahead of the honest ones finds their blocks timely only from round 24
  t.equal(proposalTimeliness(received - 30_000, received, params, 23), 'tooLate')
  t.equal(proposalTimeliness(received - 30_000, received, params, 24), 'timely')
})

t.test('parameters: integers in [0, 1 h], the bad one named', async (t) => {
  t.equal(timelinessParamsProblem(DEFAULT_TIMELINESS), undefined)
  t.equal(timelinessParamsProblem({ precisionMs: 0, messageDelayMs: 3_600_000 }), undefined)
  t.match(timelinessParamsProblem({ precisionMs: -1, messageDelayMs: 0 }), /^precisionMs/)
  t.match(timelinessParamsProblem({ precisionMs: 1.5, messageDelayMs: 0 }), /^precisionMs/)
  t.match(timelinessParamsProblem({ precisionMs: 0, messageDelayMs: 3_600_001 }), /^messageDelayMs/)
  t.throws(() => checkedTimelinessParams({ precisionMs: Number.NaN, messageDelayMs: 0 }), { code: 'INVALID_OPTIONS' })
})

t.test('a clock is skewed when its peers\' median offset is beyond the precision either way', async (t) => {
  t.equal(isClockSkewed(500, params), false, 'exactly precision behind the peers')
  t.equal(isClockSkewed(-500, params), false, 'exactly precision ahead')
  t.equal(isClockSkewed(501, params), true, '1 ms beyond, behind')
  t.equal(isClockSkewed(-501, params), true, '1 ms beyond, ahead')
})

t.test('median', async (t) => {
  t.equal(median([3]), 3)
  t.equal(median([5, 1, 3]), 3)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([-30_000, 10, 12]), 10, 'one outlier does not move it')
  t.throws(() => median([]), { code: 'INVALID_INPUT' })
})
