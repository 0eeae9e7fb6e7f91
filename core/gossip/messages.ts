/**
 * SWIM wire messages. Every message may carry piggybacked news.
 *
 *   ping     (0) seq, target, news      "are you there?"; answered by ack
 *   ack      (1) seq, news              answer to a ping (or, relayed, to a ping-req)
 *   pingReq  (2) seq, target, news      "ping target for me"; answered by ack or nack
 *   nack     (3) seq, news              Lifeguard: "I asked, the target did not answer"
 *   gossip   (4) news                   a gossip round
 *   pushPull (5) reply, members         full state; reply=1 asks for the receiver's
 *
 *   news   := count, (kind, member id, incarnation, [from])*   kind: alive 0, suspect 1, dead 2
 *   member := id, incarnation, state (alive 0, suspect 1, dead 2, left 3)
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readId, readUint, writeId, writeUint } from '../codec/fields.ts'
import { gossipLimits } from './config.ts'

export type News =
  | { readonly kind: 'alive'; readonly member: string; readonly incarnation: number }
  | { readonly kind: 'suspect' | 'dead'; readonly member: string; readonly incarnation: number; readonly from: string }

export const memberStates = ['alive', 'suspect', 'dead', 'left'] as const
export type MemberState = (typeof memberStates)[number]

export interface MemberSummary {
  readonly id: string
  readonly incarnation: number
  readonly state: MemberState
}

export type GossipMessage =
  | { readonly type: 'ping'; readonly seq: number; readonly target: string; readonly news: readonly News[] }
  | { readonly type: 'ack'; readonly seq: number; readonly news: readonly News[] }
  | { readonly type: 'pingReq'; readonly seq: number; readonly target: string; readonly news: readonly News[] }
  | { readonly type: 'nack'; readonly seq: number; readonly news: readonly News[] }
  | { readonly type: 'gossip'; readonly news: readonly News[] }
  | { readonly type: 'pushPull'; readonly reply: boolean; readonly members: readonly MemberSummary[] }

const typeNumbers = { ping: 0, ack: 1, pingReq: 2, nack: 3, gossip: 4, pushPull: 5 } as const
const newsKinds = ['alive', 'suspect', 'dead'] as const
/** News items one message may carry on the wire. */
const newsPerMessageMax = 256
const seqMax = Number.MAX_SAFE_INTEGER
const incarnationMax = 0xffff_ffff

export function gossipMessageType(message: GossipMessage): number {
  return typeNumbers[message.type]
}

function writeNews(encoder: encoding.Encoder, news: readonly News[]): void {
  writeUint(encoder, news.length)
  for (const item of news) {
    writeUint(encoder, newsKinds.indexOf(item.kind))
    writeId(encoder, item.member)
    writeUint(encoder, item.incarnation)
    if (item.kind !== 'alive') writeId(encoder, item.from)
  }
}

function readNews(decoder: decoding.Decoder): News[] {
  const count = readUint(decoder, newsPerMessageMax, 'news count')
  const news: News[] = []
  for (let index = 0; index < count; index++) {
    const kind = newsKinds[readUint(decoder, newsKinds.length - 1, 'news kind')]!
    const member = readId(decoder, 'news member')
    const incarnation = readUint(decoder, incarnationMax, 'incarnation')
    news.push(kind === 'alive' ? { kind, member, incarnation } : { kind, member, incarnation, from: readId(decoder, 'news source') })
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
        writeUint(encoder, memberStates.indexOf(member.state))
      }
      return
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
        members.push({ id, incarnation, state: memberStates[readUint(decoder, memberStates.length - 1, 'member state')]! })
      }
      return { type: 'pushPull', reply, members }
    }
    default:
      return fail('unknownType', `gossip has no message type ${type}`)
  }
}

export function describeGossipMessage(message: GossipMessage): string {
  const news = 'news' in message && message.news.length > 0 ? ` +${message.news.map((item) => `${item.kind}:${item.member}@${item.incarnation}`).join(',')}` : ''
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
      return `pushPull${message.reply ? ' reply-wanted' : ''} ${message.members.length} members`
  }
}
