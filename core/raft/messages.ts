/**
 * Raft wire messages. Every message carries the sender's term; a receiver
 * with a lower term catches up, one with a higher term answers so the sender
 * learns it is stale.
 *
 *   preVote       (0)  term lastIndex lastTerm        "would you vote for me at this term?" (no term change)
 *   preVoteResp   (1)  term granted
 *   vote          (2)  term lastIndex lastTerm transfer   transfer=1: asked by a leadership transfer
 *   voteResp      (3)  term granted
 *   append        (4)  term prevIndex prevTerm commit entries*
 *   appendResp    (5)  term success index hintIndex hintTerm
 *                      success: index is the follower's match; refusal: index is the refused
 *                      prevIndex, and the hint says where the logs may agree (fast backtracking)
 *   heartbeat     (6)  term commit readSeq           readSeq: the leader's latest ReadIndex round
 *   heartbeatResp (7)  term readSeq
 *   snapshot      (8)  term index snapTerm voters* learners* data   InstallSnapshot, in one message
 *   timeoutNow    (9)  term                          leadership transfer: campaign at once
 *
 *   entry  := term index kind data      kind: command 0, config 1, noop 2
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { bytesBytes, putBytes, putUint, readBytes, readId, readUint, uintBytes, writeBytes, writeId, writeUint } from '../codec/fields.ts'
import type { NodeId } from '../ports.ts'
import { raftLimits } from './config.ts'

export const entryKinds = ['command', 'config', 'noop'] as const
export type EntryKind = (typeof entryKinds)[number]

export interface Entry {
  readonly term: number
  readonly index: number
  readonly kind: EntryKind
  readonly data: Uint8Array
}

/** Who votes and who only follows. */
export interface Membership {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

export interface SnapshotMeta {
  readonly index: number
  readonly term: number
  readonly membership: Membership
}

export interface Snapshot extends SnapshotMeta {
  readonly data: Uint8Array
}

export type RaftMessage =
  | { readonly type: 'preVote' | 'vote'; readonly term: number; readonly lastIndex: number; readonly lastTerm: number; readonly transfer: boolean }
  | { readonly type: 'preVoteResp' | 'voteResp'; readonly term: number; readonly granted: boolean }
  | { readonly type: 'append'; readonly term: number; readonly prevIndex: number; readonly prevTerm: number; readonly commit: number; readonly entries: readonly Entry[] }
  | { readonly type: 'appendResp'; readonly term: number; readonly success: boolean; readonly index: number; readonly hintIndex: number; readonly hintTerm: number }
  | { readonly type: 'heartbeat'; readonly term: number; readonly commit: number; readonly readSeq: number }
  | { readonly type: 'heartbeatResp'; readonly term: number; readonly readSeq: number }
  | { readonly type: 'snapshot'; readonly term: number; readonly snapshot: Snapshot }
  | { readonly type: 'timeoutNow'; readonly term: number }

const typeNumbers = { preVote: 0, preVoteResp: 1, vote: 2, voteResp: 3, append: 4, appendResp: 5, heartbeat: 6, heartbeatResp: 7, snapshot: 8, timeoutNow: 9 } as const
const types = Object.keys(typeNumbers) as RaftMessage['type'][]
const numberMax = Number.MAX_SAFE_INTEGER

export function raftMessageType(message: RaftMessage): number {
  return typeNumbers[message.type]
}

export function writeEntry(encoder: encoding.Encoder, entry: Entry): void {
  writeUint(encoder, entry.term)
  writeUint(encoder, entry.index)
  writeUint(encoder, entryKinds.indexOf(entry.kind))
  writeBytes(encoder, entry.data)
}

/** Bytes writeEntry writes for `entry`. */
export function entryBytes(entry: Entry): number {
  return uintBytes(entry.term) + uintBytes(entry.index) + uintBytes(entryKinds.indexOf(entry.kind)) + bytesBytes(entry.data)
}

/** writeEntry straight into an array sized with entryBytes (see putUint); the same bytes. */
export function putEntry(out: Uint8Array, at: number, entry: Entry): number {
  at = putUint(out, at, entry.term)
  at = putUint(out, at, entry.index)
  at = putUint(out, at, entryKinds.indexOf(entry.kind))
  return putBytes(out, at, entry.data)
}

export function readEntry(decoder: decoding.Decoder): Entry {
  const term = readUint(decoder, numberMax, 'entry term')
  const index = readUint(decoder, numberMax, 'entry index')
  const kind = entryKinds[readUint(decoder, entryKinds.length - 1, 'entry kind')]!
  return { term, index, kind, data: readBytes(decoder, raftLimits.entryBytesMax, 'entry data') }
}

export function writeMembership(encoder: encoding.Encoder, membership: Membership): void {
  for (const ids of [membership.voters, membership.learners]) {
    writeUint(encoder, ids.length)
    for (const id of ids) writeId(encoder, id)
  }
}

export function readMembership(decoder: decoding.Decoder): Membership {
  const [voters, learners] = [0, 1].map(() => {
    const count = readUint(decoder, raftLimits.membersMax, 'members')
    return Array.from({ length: count }, () => readId(decoder, 'member'))
  }) as [NodeId[], NodeId[]]
  return { voters, learners }
}

export function writeSnapshot(encoder: encoding.Encoder, snapshot: Snapshot): void {
  writeUint(encoder, snapshot.index)
  writeUint(encoder, snapshot.term)
  writeMembership(encoder, snapshot.membership)
  writeBytes(encoder, snapshot.data)
}

export function readSnapshot(decoder: decoding.Decoder): Snapshot {
  const index = readUint(decoder, numberMax, 'snapshot index')
  const term = readUint(decoder, numberMax, 'snapshot term')
  const membership = readMembership(decoder)
  return { index, term, membership, data: readBytes(decoder, raftLimits.snapshotBytesMax, 'snapshot data') }
}

export function writeRaftBody(encoder: encoding.Encoder, message: RaftMessage): void {
  writeUint(encoder, message.term)
  switch (message.type) {
    case 'preVote':
    case 'vote':
      writeUint(encoder, message.lastIndex)
      writeUint(encoder, message.lastTerm)
      writeUint(encoder, message.transfer ? 1 : 0)
      return
    case 'preVoteResp':
    case 'voteResp':
      writeUint(encoder, message.granted ? 1 : 0)
      return
    case 'append':
      writeUint(encoder, message.prevIndex)
      writeUint(encoder, message.prevTerm)
      writeUint(encoder, message.commit)
      writeUint(encoder, message.entries.length)
      for (const entry of message.entries) writeEntry(encoder, entry)
      return
    case 'appendResp':
      writeUint(encoder, message.success ? 1 : 0)
      writeUint(encoder, message.index)
      writeUint(encoder, message.hintIndex)
      writeUint(encoder, message.hintTerm)
      return
    case 'heartbeat':
      writeUint(encoder, message.commit)
      writeUint(encoder, message.readSeq)
      return
    case 'heartbeatResp':
      writeUint(encoder, message.readSeq)
      return
    case 'snapshot':
      return writeSnapshot(encoder, message.snapshot)
    case 'timeoutNow':
      return
  }
}

export function readRaftBody(type: number, decoder: decoding.Decoder): RaftMessage {
  const name = types[type]
  if (name === undefined) return fail('unknownType', `raft has no message type ${type}`)
  const term = readUint(decoder, numberMax, 'term')
  const flag = (what: string) => readUint(decoder, 1, what) === 1
  switch (name) {
    case 'preVote':
    case 'vote': {
      const lastIndex = readUint(decoder, numberMax, 'last index')
      const lastTerm = readUint(decoder, numberMax, 'last term')
      return { type: name, term, lastIndex, lastTerm, transfer: flag('transfer flag') }
    }
    case 'preVoteResp':
    case 'voteResp':
      return { type: name, term, granted: flag('granted flag') }
    case 'append': {
      const prevIndex = readUint(decoder, numberMax, 'prev index')
      const prevTerm = readUint(decoder, numberMax, 'prev term')
      const commit = readUint(decoder, numberMax, 'commit')
      const count = readUint(decoder, raftLimits.entriesPerMessageMax, 'entries')
      const entries = Array.from({ length: count }, () => readEntry(decoder))
      entries.forEach((entry, offset) => {
        if (entry.index !== prevIndex + 1 + offset) fail('invalidField', `entry ${offset} has index ${entry.index}, expected ${prevIndex + 1 + offset}`)
      })
      return { type: name, term, prevIndex, prevTerm, commit, entries }
    }
    case 'appendResp': {
      const success = flag('success flag')
      const index = readUint(decoder, numberMax, 'index')
      const hintIndex = readUint(decoder, numberMax, 'hint index')
      return { type: name, term, success, index, hintIndex, hintTerm: readUint(decoder, numberMax, 'hint term') }
    }
    case 'heartbeat': {
      const commit = readUint(decoder, numberMax, 'commit')
      return { type: name, term, commit, readSeq: readUint(decoder, numberMax, 'read seq') }
    }
    case 'heartbeatResp':
      return { type: name, term, readSeq: readUint(decoder, numberMax, 'read seq') }
    case 'snapshot':
      return { type: name, term, snapshot: readSnapshot(decoder) }
    case 'timeoutNow':
      return { type: name, term }
  }
}

export function describeRaftMessage(message: RaftMessage): string {
  switch (message.type) {
    case 'preVote':
    case 'vote':
      return `${message.type} t${message.term} last=${message.lastIndex}@t${message.lastTerm}${message.transfer ? ' transfer' : ''}`
    case 'preVoteResp':
    case 'voteResp':
      return `${message.type} t${message.term} ${message.granted ? 'granted' : 'rejected'}`
    case 'append':
      return `append t${message.term} prev=${message.prevIndex}@t${message.prevTerm} commit=${message.commit} entries=${message.entries.map((entry) => `${entry.index}@t${entry.term}`).join(',') || '-'}`
    case 'appendResp':
      return `appendResp t${message.term} ${message.success ? `ok index=${message.index}` : `reject index=${message.index} hint=${message.hintIndex}@t${message.hintTerm}`}`
    case 'heartbeat':
      return `heartbeat t${message.term} commit=${message.commit} read=${message.readSeq}`
    case 'heartbeatResp':
      return `heartbeatResp t${message.term} read=${message.readSeq}`
    case 'snapshot':
      return `snapshot t${message.term} index=${message.snapshot.index}@t${message.snapshot.term} voters=${message.snapshot.membership.voters.join(',')}`
    case 'timeoutNow':
      return `timeoutNow t${message.term}`
  }
}
