// Payment-channel vouchers and the request chain they sign (pure; the CLI, the provider's node and
// the runtime compute the same bytes).
//
// A voucher is the channel user's secp256k1 signature over
//   keccak256("openledger/voucher/v1" ‖ canonical([chainId, channel, cumulative, requestHash]))
// where `cumulative` is everything the user has agreed to pay on the channel so far and
// `requestHash` is the head of the channel's request chain after the request it pays for:
//   head₀ = keccak256("openledger/channel/v1" ‖ u64Key channel)
//   headₙ = keccak256("openledger/channel-request/v1" ‖ headₙ₋₁ ‖ keccak256(canonical(termsₙ, priceₙ)))
// So the latest voucher alone commits to every request since the channel opened, with its price:
// the provider redeems a batch with one signature check, the runtime re-chains the batch's terms
// from the stored head, and no request can be added, dropped, reordered or repriced. A voucher
// for another chain or channel recovers another address; one whose cumulative is not above what
// was redeemed is stale.
import { encode } from '../../codec/canonical.ts'
import * as k from '../../codec/schema.ts'
import { concatBytes, keccak256, keccak256Prefixed, utf8 } from '../../crypto/hash.ts'
import { recoverAddress, signDigest, type Address } from '../../crypto/secp256k1.ts'
import { u64Key } from '../../storage.ts'
import { inferenceTermsFields } from './state.ts'

const VOUCHER_DOMAIN = utf8('openledger/voucher/v1')
const HEAD_DOMAIN = utf8('openledger/channel/v1')
const REQUEST_DOMAIN = utf8('openledger/channel-request/v1')

export const voucherBodyKind = k.struct({ chainId: k.uint, channel: k.uint, cumulative: k.amount, requestHash: k.hash })
export type VoucherBody = k.Infer<typeof voucherBodyKind>

/** What the user signs per channel request: the terms and the price it pays for them. */
export const channelTermsKind = k.struct({ ...inferenceTermsFields, price: k.amount })
export type ChannelTerms = k.Infer<typeof channelTermsKind>

export function voucherDigest(body: VoucherBody): Uint8Array {
  return keccak256Prefixed(VOUCHER_DOMAIN, encode(voucherBodyKind.encode(body)))
}

export function signVoucher(privateKey: Uint8Array, body: VoucherBody): Uint8Array {
  return signDigest(privateKey, voucherDigest(body))
}

/** The voucher's signer, or undefined for a signature that recovers nothing. */
export function voucherSigner(body: VoucherBody, signature: Uint8Array): Address | undefined {
  return recoverAddress(voucherDigest(body), signature)
}

export function initialChannelHead(channel: number): Uint8Array {
  return keccak256(concatBytes(HEAD_DOMAIN, u64Key(channel)))
}

export function requestDigest(terms: ChannelTerms): Uint8Array {
  return keccak256(encode(channelTermsKind.encode(terms)))
}

export function nextChannelHead(head: Uint8Array, terms: ChannelTerms): Uint8Array {
  return keccak256(concatBytes(REQUEST_DOMAIN, head, requestDigest(terms)))
}
