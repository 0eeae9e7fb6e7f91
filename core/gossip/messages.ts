/**
 * SWIM wire messages. Every message may carry piggybacked news.
 *
 *   ping     (0) seq, target, news      "are you there?"; answered by ack
 *   ack      (1) seq, news              answer to a ping (or, relayed, to a ping-req)
 *   pingReq  (2) seq, target, news      "ping target for me"; answered by ack or nack
 *   nack     (3) seq, news              Lifeguard: "I asked, the target did not answer"
 *   gossip   (4) news                   a gossip round
 *   pushPull (5) reply, members, versions   full membership and the version of every
 *                                            update held; reply=1 asks for the receiver's
 *   updates  (6) (key, version, value)*  the updates the other side lacked (after a push-pull)
 *   digest   (7) count, hash        anti-entropy of updates: the sender's set of (key, version) in brief
 *   versions (8) reply, (key, version)*  after differing digests: the version of every update held;
 *                                        answered by the updates the sender lacks (and, with
 *                                        reply=1, by the receiver's own versions)
 *
 *   news   := count, (kind, ...)*   alive 0: member, incarnation; suspect 1 / dead 2: member,
 *             incarnation, from; update 3: key, version, value; alive with metadata 4: member,
 *             incarnation, meta (memberMeta.ts)
 *   member := id, incarnation, state (alive 0, suspect 1, dead 2, left 3; +4: meta follows)
 *
 * Metadata rides in kinds and states of their own, so news without it keeps its bytes.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { bytesBytes, idBytes, readBytes, readId, readText, readUint, textBytes, uintBytes, writeBytes, writeId, writeText, writeUint } from '../codec/fields.ts'
import { gossipLimits } from './config.ts'
import { limits } from '../lib/limits.ts'
import { memberMetaBytes, readMemberMeta, writeMemberMeta, type MemberMeta } from './memberMeta.ts'

/** Alive news may carry the member's metadata (its own announcement does; news passed on keeps what it had). */
export type MemberNews =
  { readonly kind: 'alive'; readonly member: string; readonly incarnation: number; readonly meta?: MemberMeta } | { readonly kind: 'suspect' | 'dead'; readonly member: string; readonly incarnation: number; readonly from: string }

/** A keyed, versioned value spread by gossip: the higher version wins. */
export interface Update {
  readonly key: string
  readonly version: number
  readonly value: Uint8Array
}

export type News = MemberNews | ({ readonly kind: 'update' } & Update)

export const updateLimits = {
  keyBytesMax: 256,
  /** A published value (core/replica/published.ts): a put's value of limits.valueBytesMax with its version. */
  valueBytesMax: limits.valueBytesMax + 64,
  /** Bytes of update values in one `updates` message (at least one update): anti-entropy sends what a peer lacks in several. */
  updatesMessageBytesMax: 4 * 1024 * 1024,
  /** Updates one node keeps and one push-pull lists. */
  updatesMax: 4096,
} as const

export const memberStates = ['alive', 'suspect', 'dead', 'left'] as const
export type MemberState = (typeof memberStates)[number]

export interface MemberSummary {
  readonly id: string
  readonly incarnation: number
  readonly state: MemberState
  /** The member's metadata as this node holds it (memberMeta.ts). */
  readonly meta?: MemberMeta
}

export type GossipMessage =
  | { readonly type: 'ping'; readonly seq: number; readonly target: string; readonly news: readonly News[] }
  | { readonly type: 'ack'; readonly seq: number; readonly news: readonly News[] }
  | { readonly type: 'pingReq'; readonly seq: number; readonly target: string; readonly news: readonly News[] }
  | { readonly type: 'nack'; readonly seq: number; readonly news: readonly News[] }
  | { readonly type: 'gossip'; readonly news: readonly News[] }
  | { readonly type: 'pushPull'; readonly reply: boolean; readonly members: readonly MemberSummary[]; readonly versions: readonly (readonly [string, number])[] }
  | { readonly type: 'updates'; readonly updates: readonly Update[] }
  | { readonly type: 'digest'; readonly count: number; readonly hash: number }
  | { readonly type: 'versions'; readonly reply: boolean; readonly versions: readonly (readonly [string, number])[] }

const typeNumbers = { ping: 0, ack: 1, pingReq: 2, nack: 3, gossip: 4, pushPull: 5, updates: 6, digest: 7, versions: 8 } as const
const newsKinds = ['alive', 'suspect', 'dead', 'update'] as const
/** The wire kind of alive news that carries metadata, and the offset of a push-pull state that does. */
const aliveWithMetaKind = 4
const withMetaStateOffset = 4
/** News items one message may carry on the wire. */
const newsPerMessageMax = 256
const seqMax = Number.MAX_SAFE_INTEGER
const incarnationMax = 0xffff_ffff

export function gossipMessageType(message: GossipMessage): number {
  return typeNumbers[message.type]
}

function writeUpdate(encoder: encoding.Encoder, update: Update): void {
  writeText(encoder, update.key)
  writeUint(encoder, update.version)
  writeBytes(encoder, update.value)
}

function updateBytes(update: Update): number {
  return textBytes(update.key) + uintBytes(update.version) + bytesBytes(update.value)
}

function readUpdate(decoder: decoding.Decoder): Update {
  const key = readText(decoder, updateLimits.keyBytesMax, 'update key')
  const version = readUint(decoder, Number.MAX_SAFE_INTEGER, 'update version')
  return { key, version, value: readBytes(decoder, updateLimits.valueBytesMax, 'update value') }
}

function writeVersions(encoder: encoding.Encoder, versions: readonly (readonly [string, number])[]): void {
  writeUint(encoder, versions.length)
  for (const [key, version] of versions) {
    writeText(encoder, key)
    writeUint(encoder, version)
  }
}

function versionsBytes(versions: readonly (readonly [string, number])[]): number {
  let bytes = uintBytes(versions.length)
  for (const [key, version] of versions) bytes += textBytes(key) + uintBytes(version)
  return bytes
}

function readVersions(decoder: decoding.Decoder): [string, number][] {
  const count = readUint(decoder, updateLimits.updatesMax, 'versions')
  const versions: [string, number][] = []
  for (let index = 0; index < count; index++) versions.push([readText(decoder, updateLimits.keyBytesMax, 'update key'), readUint(decoder, Number.MAX_SAFE_INTEGER, 'update version')])
  return versions
}

function writeNews(encoder: encoding.Encoder, news: readonly News[]): void {
  writeUint(encoder, news.length)
  for (const item of news) {
    writeUint(encoder, item.kind === 'alive' && item.meta !== undefined ? aliveWithMetaKind : newsKinds.indexOf(item.kind))
    if (item.kind === 'update') {
      writeUpdate(encoder, item)
      continue
    }
    writeId(encoder, item.member)
    writeUint(encoder, item.incarnation)
    if (item.kind !== 'alive') writeId(encoder, item.from)
    else if (item.meta !== undefined) writeMemberMeta(encoder, item.meta)
  }
}

function newsBytes(news: readonly News[]): number {
  let bytes = uintBytes(news.length)
  for (const item of news) {
    bytes += 1 // the kind
    if (item.kind === 'update') bytes += updateBytes(item)
    else bytes += idBytes(item.member) + uintBytes(item.incarnation) + (item.kind !== 'alive' ? idBytes(item.from) : item.meta !== undefined ? memberMetaBytes(item.meta) : 0)
  }
  return bytes
}

function readNews(decoder: decoding.Decoder): News[] {
  const count = readUint(decoder, newsPerMessageMax, 'news count')
  const news: News[] = []
  for (let index = 0; index < count; index++) {
    const code = readUint(decoder, aliveWithMetaKind, 'news kind')
    const kind = code === aliveWithMetaKind ? 'alive' : newsKinds[code]!
    if (kind === 'update') {
      news.push({ kind, ...readUpdate(decoder) })
      continue
    }
    const member = readId(decoder, 'news member')
    const incarnation = readUint(decoder, incarnationMax, 'incarnation')
    if (kind !== 'alive') news.push({ kind, member, incarnation, from: readId(decoder, 'news source') })
    else news.push(code === aliveWithMetaKind ? { kind, member, incarnation, meta: readMemberMeta(decoder) } : { kind, member, incarnation })
  }
  return news
}

export function writeGossipBody(encoder: encoding.Encoder, message: GossipMessage): void {
  switch (message.type) {
    case 'ping':
    case 'pingReq':
      writeUint(encoder, message.seq)
      writeId(encoder, message.target)
      return writeNews(encoder, message.news)
    case 'ack':
    case 'nack':
      writeUint(encoder, message.seq)
      return writeNews(encoder, message.news)
    case 'gossip':
      return writeNews(encoder, message.news)
    case 'pushPull':
      writeUint(encoder, message.reply ? 1 : 0)
      writeUint(encoder, message.members.length)
      for (const member of message.members) {
        writeId(encoder, member.id)
        writeUint(encoder, member.incarnation)
        writeUint(encoder, memberStates.indexOf(member.state) + (member.meta !== undefined ? withMetaStateOffset : 0))
        if (member.meta !== undefined) writeMemberMeta(encoder, member.meta)
      }
      return writeVersions(encoder, message.versions)
    case 'updates':
      writeUint(encoder, message.updates.length)
      for (const update of message.updates) writeUpdate(encoder, update)
      return
    case 'digest':
      writeUint(encoder, message.count)
      writeUint(encoder, message.hash)
      return
    case 'versions':
      writeUint(encoder, message.reply ? 1 : 0)
      return writeVersions(encoder, message.versions)
  }
}

/** The length of what `writeGossipBody` writes, without writing it (the engine's bytes metric). */
export function gossipBodyBytes(message: GossipMessage): number {
  switch (message.type) {
    case 'ping':
    case 'pingReq':
      return uintBytes(message.seq) + idBytes(message.target) + newsBytes(message.news)
    case 'ack':
    case 'nack':
      return uintBytes(message.seq) + newsBytes(message.news)
    case 'gossip':
      return newsBytes(message.news)
    case 'pushPull': {
      let bytes = 1 + uintBytes(message.members.length) + versionsBytes(message.versions)
      for (const member of message.members) bytes += idBytes(member.id) + uintBytes(member.incarnation) + 1 + (member.meta !== undefined ? memberMetaBytes(member.meta) : 0)
      return bytes
    }
    case 'updates': {
      let bytes = uintBytes(message.updates.length)
      for (const update of message.updates) bytes += updateBytes(update)
      return bytes
    }
    case 'digest':
      return uintBytes(message.count) + uintBytes(message.hash)
    case 'versions':
      return 1 + versionsBytes(message.versions)
  }
}

export function readGossipBody(type: number, decoder: decoding.Decoder): GossipMessage {
  switch (type) {
    case typeNumbers.ping:
    case typeNumbers.pingReq: {
      const seq = readUint(decoder, seqMax, 'seq')
      const target = readId(decoder, 'target')
      return { type: type === typeNumbers.ping ? 'ping' : 'pingReq', seq, target, news: readNews(decoder) }
    }
    case typeNumbers.ack:
    case typeNumbers.nack: {
      const seq = readUint(decoder, seqMax, 'seq')
      return { type: type === typeNumbers.ack ? 'ack' : 'nack', seq, news: readNews(decoder) }
    }
    case typeNumbers.gossip:
      return { type: 'gossip', news: readNews(decoder) }
    case typeNumbers.pushPull: {
      const reply = readUint(decoder, 1, 'reply flag') === 1
      const count = readUint(decoder, gossipLimits.pushPullMembersMax, 'members')
      const members: MemberSummary[] = []
      for (let index = 0; index < count; index++) {
        const id = readId(decoder, 'member')
        const incarnation = readUint(decoder, incarnationMax, 'incarnation')
        const code = readUint(decoder, withMetaStateOffset + memberStates.length - 1, 'member state')
        const state = memberStates[code % withMetaStateOffset]!
        members.push(code >= withMetaStateOffset ? { id, incarnation, state, meta: readMemberMeta(decoder) } : { id, incarnation, state })
      }
      return { type: 'pushPull', reply, members, versions: readVersions(decoder) }
    }
    case typeNumbers.updates: {
      const count = readUint(decoder, updateLimits.updatesMax, 'updates')
      const updates: Update[] = []
      for (let index = 0; index < count; index++) updates.push(readUpdate(decoder))
      return { type: 'updates', updates }
    }
    case typeNumbers.digest: {
      const count = readUint(decoder, updateLimits.updatesMax, 'update count')
      return { type: 'digest', count, hash: readUint(decoder, 0xffff_ffff, 'update digest') }
    }
    case typeNumbers.versions: {
      const reply = readUint(decoder, 1, 'reply flag') === 1
      return { type: 'versions', reply, versions: readVersions(decoder) }
    }
    default:
      return fail('unknownType', `gossip has no message type ${type}`)
  }
}

export function describeGossipMessage(message: GossipMessage): string {
  const news =
    'news' in message && message.news.length > 0
      ? ` +${message.news.map((item) => (item.kind === 'update' ? `update:${item.key}@${item.version}` : `${item.kind}:${item.member}@${item.incarnation}${item.kind === 'alive' && item.meta !== undefined ? describeMeta(item.meta) : ''}`)).join(',')}`
      : ''
  switch (message.type) {
    case 'ping':
    case 'pingReq':
      return `${message.type} #${message.seq} ${message.target}${news}`
    case 'ack':
    case 'nack':
      return `${message.type} #${message.seq}${news}`
    case 'gossip':
      return `gossip${news}`
    case 'pushPull':
      return `pushPull${message.reply ? ' reply-wanted' : ''} ${message.members.length} members ${message.versions.length} versions`
    case 'updates':
      return `updates ${message.updates.map((update) => `${update.key}@${update.version}`).join(',')}`
    case 'digest':
      return `digest ${message.count} updates #${message.hash.toString(16)}`
    case 'versions':
      return `versions${message.reply ? ' reply-wanted' : ''} ${message.versions.length}`
  }
}

/** Metadata in a message's one-line description: {region address tag=value,...}. */
function describeMeta(meta: MemberMeta): string {
  const tags = Object.entries(meta.tags).map(([name, value]) => `${name}=${value}`)
  return `{${[meta.region, meta.address, tags.join(',')].filter((part) => part.length > 0).join(' ')}}`
}
