/**
 * PBFT wire messages (Castro & Liskov, OSDI '99). Every message is a signed
 * body: `bytes` is the body's canonical encoding (engine id and type first, so
 * a signature can never be read as another engine's or type's), `signature`
 * the sender's signature over it. Bodies name their sender (`replica`), and a
 * receiver believes the name only when the signature verifies under that
 * replica's key; signed messages are therefore relayed as they are, and
 * certificates (prepared, checkpoint, view change) are sets of them.
 *
 * Every body names the group epoch its sender is in (groupConfig.ts), right
 * after the sender: a message of another epoch is refused, and no signature
 * of one epoch counts in another.
 *
 *   request     (0)  replica=gateway requests*           a bundle of client requests, signed by the replica they entered at
 *   prePrepare  (1)  replica view seq digest            + batch (unsigned; its digest is the signed `digest`)
 *   prepare     (2)  replica view seq digest
 *   commit      (3)  replica view seq digest
 *   reply       (4)  replica view seq gateway results*   results of one batch for one gateway's clients
 *   checkpoint  (5)  replica seq stateDigest
 *   viewChange  (6)  replica view stableSeq checkpoint* prepared*   + the batch of each prepared certificate
 *   newView     (7)  replica view viewChange* prePrepare*          + the batch of each pre-prepare
 *   status      (8)  replica view executed stableSeq      "this is how far I am": peers send what it lacks
 *   state       (9)  replica seq checkpoint* link* state   state transfer to a replica behind the stable checkpoint
 *                                                          (links: the epochs the receiver lacks, groupConfig.ts)
 *
 *   request  := client timestamp operation
 *   prepared := prePrepare prepare*                      a prepared certificate: pre-prepare and 2f matching prepares
 *   batch    := request*  (signed bundles)               digest = Signer.digest(writeBatch(batch)); empty = the null request
 *   link     := groupConfig machineDigest checkpoint*   the step from one epoch's group to the next
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { engineIds } from '../codec/engineIds.ts'
import { readBytes, readId, readText, readUint, writeBytes, writeId, writeText, writeUint } from '../codec/fields.ts'
import { limits } from '../lib/limits.ts'
import type { NodeId, Signer } from '../ports.ts'
import { pbftLimits } from './config.ts'
import { readGroupConfig, writeGroupConfig, type PbftGroupConfig } from './groupConfig.ts'

export interface ClientRequest {
  /** The client's id, scoped by the gateway that signs the bundle: `gateway/client` is the client everywhere. */
  readonly client: string
  /** Increases with each request of one client; a request at or below the last executed one is never executed again. */
  readonly timestamp: number
  readonly operation: Uint8Array
}

export interface ClientResult {
  readonly client: string
  readonly timestamp: number
  readonly result: Uint8Array
}

/**
 * The step from the group of epoch `group.epoch - 1` to `group`: the digest of
 * the executed state at `group.startSeq`, and the quorum of the old group's
 * checkpoints that made it stable (their state digest is
 * groupConfig.ts checkpointDigest(group, machineDigest)).
 */
export interface EpochLink {
  readonly group: PbftGroupConfig
  readonly machineDigest: Uint8Array
  readonly proof: readonly Signed<CheckpointBody>[]
}

/** What every body starts with: its sender and the group epoch the sender is in. */
interface Sender {
  readonly replica: NodeId
  readonly epoch: number
}

export type PbftBody =
  | (Sender & { readonly type: 'request'; readonly requests: readonly ClientRequest[] })
  | (Sender & { readonly type: 'prePrepare' | 'prepare' | 'commit'; readonly view: number; readonly seq: number; readonly digest: Uint8Array })
  | (Sender & { readonly type: 'reply'; readonly view: number; readonly seq: number; readonly gateway: NodeId; readonly results: readonly ClientResult[] })
  | (Sender & { readonly type: 'checkpoint'; readonly seq: number; readonly stateDigest: Uint8Array })
  | (Sender & { readonly type: 'viewChange'; readonly view: number; readonly stableSeq: number; readonly checkpoints: readonly Signed<CheckpointBody>[]; readonly prepared: readonly PreparedCertificate[] })
  | (Sender & { readonly type: 'newView'; readonly view: number; readonly viewChanges: readonly Signed<ViewChangeBody>[]; readonly prePrepares: readonly Signed<OrderBody>[] })
  | (Sender & { readonly type: 'status'; readonly view: number; readonly executed: number; readonly stableSeq: number })
  | (Sender & { readonly type: 'state'; readonly seq: number; readonly checkpoints: readonly Signed<CheckpointBody>[]; readonly links: readonly EpochLink[]; readonly state: Uint8Array })

export type PbftType = PbftBody['type']
export type BodyOf<T extends PbftType> = Extract<PbftBody, { type: T }>
export type RequestBody = BodyOf<'request'>
export type OrderBody = BodyOf<'prePrepare' | 'prepare' | 'commit'>
export type CheckpointBody = BodyOf<'checkpoint'>
export type ViewChangeBody = BodyOf<'viewChange'>

export interface Signed<B extends PbftBody = PbftBody> {
  readonly body: B
  /** The body's canonical encoding: what the signature covers. */
  readonly bytes: Uint8Array
  readonly signature: Uint8Array
}

/** A prepared certificate: the pre-prepare and 2f prepares from other replicas that match it. */
export interface PreparedCertificate {
  readonly prePrepare: Signed<OrderBody>
  readonly prepares: readonly Signed<OrderBody>[]
}

/** A batch is the signed request bundles the primary ordered at one sequence number. */
export type Batch = readonly Signed<RequestBody>[]

/** What travels: a signed body, and the batches it refers to by digest (a pre-prepare's, a view change's, a new view's). */
export interface PbftMessage {
  readonly signed: Signed
  readonly batches: readonly Batch[]
}

const typeNumbers = { request: 0, prePrepare: 1, prepare: 2, commit: 3, reply: 4, checkpoint: 5, viewChange: 6, newView: 7, status: 8, state: 9 } as const
const types = Object.keys(typeNumbers) as PbftType[]
const numberMax = Number.MAX_SAFE_INTEGER
/** Digests and signatures are at most this long (32 and 64 bytes on real hosts). */
const digestBytesMax = 64
const signatureBytesMax = 128
/** A prepared certificate holds a pre-prepare and at most n - 1 prepares; a checkpoint proof at most n checkpoints. */
const certificateMessagesMax = pbftLimits.replicasMax

export function pbftMessageType(message: PbftMessage): number {
  return typeNumbers[message.signed.body.type]
}

export const emptyBatch: Batch = Object.freeze([]) as Batch

// ----- bodies -----

function writeRequests(encoder: encoding.Encoder, requests: readonly ClientRequest[]): void {
  writeUint(encoder, requests.length)
  for (const request of requests) {
    writeText(encoder, request.client)
    writeUint(encoder, request.timestamp)
    writeBytes(encoder, request.operation)
  }
}

function readRequests(decoder: decoding.Decoder): ClientRequest[] {
  const count = readUint(decoder, pbftLimits.requestsMax, 'requests')
  return Array.from({ length: count }, () => {
    const client = readText(decoder, pbftLimits.clientIdBytesMax, 'client')
    const timestamp = readUint(decoder, numberMax, 'timestamp')
    return { client, timestamp, operation: readBytes(decoder, pbftLimits.operationBytesMax, 'operation') }
  })
}

export function writeSignedList(encoder: encoding.Encoder, list: readonly Signed[]): void {
  writeUint(encoder, list.length)
  for (const signed of list) writeSigned(encoder, signed)
}

export function readSignedList<T extends PbftType>(decoder: decoding.Decoder, type: T, countMax: number, what: string): Signed<BodyOf<T>>[] {
  const count = readUint(decoder, countMax, what)
  return Array.from({ length: count }, () => readSigned(decoder, type))
}

export function writeBody(encoder: encoding.Encoder, body: PbftBody): void {
  writeUint(encoder, engineIds.pbft)
  writeUint(encoder, typeNumbers[body.type])
  writeId(encoder, body.replica)
  writeUint(encoder, body.epoch)
  switch (body.type) {
    case 'request':
      return writeRequests(encoder, body.requests)
    case 'prePrepare':
    case 'prepare':
    case 'commit':
      writeUint(encoder, body.view)
      writeUint(encoder, body.seq)
      return writeBytes(encoder, body.digest)
    case 'reply':
      writeUint(encoder, body.view)
      writeUint(encoder, body.seq)
      writeId(encoder, body.gateway)
      writeUint(encoder, body.results.length)
      for (const result of body.results) {
        writeText(encoder, result.client)
        writeUint(encoder, result.timestamp)
        writeBytes(encoder, result.result)
      }
      return
    case 'checkpoint':
      writeUint(encoder, body.seq)
      return writeBytes(encoder, body.stateDigest)
    case 'viewChange':
      writeUint(encoder, body.view)
      writeUint(encoder, body.stableSeq)
      writeSignedList(encoder, body.checkpoints)
      writeUint(encoder, body.prepared.length)
      for (const certificate of body.prepared) {
        writeSigned(encoder, certificate.prePrepare)
        writeSignedList(encoder, certificate.prepares)
      }
      return
    case 'newView':
      writeUint(encoder, body.view)
      writeSignedList(encoder, body.viewChanges)
      return writeSignedList(encoder, body.prePrepares)
    case 'status':
      writeUint(encoder, body.view)
      writeUint(encoder, body.executed)
      return writeUint(encoder, body.stableSeq)
    case 'state':
      writeUint(encoder, body.seq)
      writeSignedList(encoder, body.checkpoints)
      writeEpochLinks(encoder, body.links)
      return writeBytes(encoder, body.state)
  }
}

export function readBody(decoder: decoding.Decoder): PbftBody {
  if (readUint(decoder, numberMax, 'engine') !== engineIds.pbft) fail('invalidField', 'signed body of another engine')
  const type = types[readUint(decoder, types.length - 1, 'type')]!
  const replica = readId(decoder, 'replica')
  const epoch = readUint(decoder, numberMax, 'epoch')
  switch (type) {
    case 'request':
      return { type, replica, epoch, requests: readRequests(decoder) }
    case 'prePrepare':
    case 'prepare':
    case 'commit': {
      const view = readUint(decoder, numberMax, 'view')
      const seq = readUint(decoder, numberMax, 'seq')
      return { type, replica, epoch, view, seq, digest: readBytes(decoder, digestBytesMax, 'digest') }
    }
    case 'reply': {
      const view = readUint(decoder, numberMax, 'view')
      const seq = readUint(decoder, numberMax, 'seq')
      const gateway = readId(decoder, 'gateway')
      const count = readUint(decoder, pbftLimits.requestsMax, 'results')
      const results = Array.from({ length: count }, () => {
        const client = readText(decoder, pbftLimits.clientIdBytesMax, 'client')
        const timestamp = readUint(decoder, numberMax, 'timestamp')
        return { client, timestamp, result: readBytes(decoder, pbftLimits.resultBytesMax, 'result') }
      })
      return { type, replica, epoch, view, seq, gateway, results }
    }
    case 'checkpoint': {
      const seq = readUint(decoder, numberMax, 'seq')
      return { type, replica, epoch, seq, stateDigest: readBytes(decoder, digestBytesMax, 'state digest') }
    }
    case 'viewChange': {
      const view = readUint(decoder, numberMax, 'view')
      const stableSeq = readUint(decoder, numberMax, 'stable seq')
      const checkpoints = readSignedList(decoder, 'checkpoint', certificateMessagesMax, 'checkpoints')
      const count = readUint(decoder, pbftLimits.windowSeqsMax, 'prepared certificates')
      const prepared = Array.from({ length: count }, () => ({ prePrepare: readSigned(decoder, 'prePrepare'), prepares: readSignedList(decoder, 'prepare', certificateMessagesMax, 'prepares') }))
      return { type, replica, epoch, view, stableSeq, checkpoints, prepared }
    }
    case 'newView': {
      const view = readUint(decoder, numberMax, 'view')
      const viewChanges = readSignedList(decoder, 'viewChange', certificateMessagesMax, 'view changes')
      return { type, replica, epoch, view, viewChanges, prePrepares: readSignedList(decoder, 'prePrepare', pbftLimits.windowSeqsMax, 'pre-prepares') }
    }
    case 'status': {
      const view = readUint(decoder, numberMax, 'view')
      const executed = readUint(decoder, numberMax, 'executed')
      return { type, replica, epoch, view, executed, stableSeq: readUint(decoder, numberMax, 'stable seq') }
    }
    case 'state': {
      const seq = readUint(decoder, numberMax, 'seq')
      const checkpoints = readSignedList(decoder, 'checkpoint', certificateMessagesMax, 'checkpoints')
      const links = readEpochLinks(decoder)
      return { type, replica, epoch, seq, checkpoints, links, state: readBytes(decoder, pbftLimits.stateBytesMax, 'state') }
    }
  }
}

// ----- signed messages -----

/** Encodes `body` and signs the encoding. */
export function signBody<B extends PbftBody>(signer: Signer, body: B): Signed<B> {
  const bytes = encodeWith(body, writeBody)
  return { body, bytes, signature: signer.sign(bytes) }
}

export function writeSigned(encoder: encoding.Encoder, signed: Signed): void {
  writeBytes(encoder, signed.bytes)
  writeBytes(encoder, signed.signature)
}

/** Reads a signed message and decodes its body from the signed bytes (so body and bytes always agree); `type` is the type it must have. */
export function readSigned<T extends PbftType>(decoder: decoding.Decoder, type?: T): Signed<BodyOf<T>> {
  const bytes = readBytes(decoder, limits.messageBytesMax, 'signed body')
  const signature = readBytes(decoder, signatureBytesMax, 'signature')
  const body = decodeWith(bytes, readBody, 'signed body')
  if (!body.ok) fail(body.error.code, body.error.message)
  if (type !== undefined && body.value.type !== type) fail('invalidField', `expected a signed ${type}, got ${body.value.type}`)
  return { body: body.value as BodyOf<T>, bytes, signature }
}

// ----- epoch links -----

export function writeEpochLinks(encoder: encoding.Encoder, links: readonly EpochLink[]): void {
  writeUint(encoder, links.length)
  for (const link of links) {
    writeGroupConfig(encoder, link.group)
    writeBytes(encoder, link.machineDigest)
    writeSignedList(encoder, link.proof)
  }
}

export function readEpochLinks(decoder: decoding.Decoder): EpochLink[] {
  const count = readUint(decoder, pbftLimits.epochLinksKept, 'epoch links')
  return Array.from({ length: count }, () => ({
    group: readGroupConfig(decoder),
    machineDigest: readBytes(decoder, digestBytesMax, 'machine digest'),
    proof: readSignedList(decoder, 'checkpoint', certificateMessagesMax, 'link checkpoints'),
  }))
}

// ----- batches -----

export function writeBatch(encoder: encoding.Encoder, batch: Batch): void {
  writeSignedList(encoder, batch)
}

export function readBatch(decoder: decoding.Decoder): Batch {
  return readSignedList(decoder, 'request', pbftLimits.batchBundlesMax, 'bundles')
}

/** The bytes a batch's digest is taken over. */
export function batchBytes(batch: Batch): Uint8Array {
  return encodeWith(batch, writeBatch)
}

// ----- the message -----

export function writePbftBody(encoder: encoding.Encoder, message: PbftMessage): void {
  writeSigned(encoder, message.signed)
  writeUint(encoder, message.batches.length)
  for (const batch of message.batches) writeBatch(encoder, batch)
}

export function readPbftBody(type: number, decoder: decoding.Decoder): PbftMessage {
  const name = types[type]
  if (name === undefined) return fail('unknownType', `pbft has no message type ${type}`)
  const signed = readSigned(decoder, name)
  const count = readUint(decoder, pbftLimits.windowSeqsMax, 'batches')
  const batches = Array.from({ length: count }, () => readBatch(decoder))
  return { signed, batches }
}

function short(digest: Uint8Array): string {
  let text = ''
  for (let index = 0; index < Math.min(4, digest.length); index++) text += digest[index]!.toString(16).padStart(2, '0')
  return text
}

export function describePbftMessage(message: PbftMessage): string {
  const body = message.signed.body
  // Epoch 0 (a group never reconfigured) is left out, so traces of such groups read as before.
  return body.epoch === 0 ? describeBody(body) : `${describeBody(body)} e${body.epoch}`
}

function describeBody(body: PbftBody): string {
  switch (body.type) {
    case 'request':
      return `request from ${body.replica} requests=${body.requests.length}`
    case 'prePrepare':
    case 'prepare':
    case 'commit':
      return `${body.type} from ${body.replica} v${body.view} n${body.seq} d=${short(body.digest)}`
    case 'reply':
      return `reply from ${body.replica} v${body.view} n${body.seq} to ${body.gateway} results=${body.results.length}`
    case 'checkpoint':
      return `checkpoint from ${body.replica} n${body.seq} d=${short(body.stateDigest)}`
    case 'viewChange':
      return `viewChange from ${body.replica} v${body.view} stable=${body.stableSeq} prepared=${body.prepared.map((certificate) => certificate.prePrepare.body.seq).join(',') || '-'}`
    case 'newView':
      return `newView from ${body.replica} v${body.view} viewChanges=${body.viewChanges.length} prePrepares=${body.prePrepares.length}`
    case 'status':
      return `status from ${body.replica} v${body.view} executed=${body.executed} stable=${body.stableSeq}`
    case 'state':
      return `state from ${body.replica} n${body.seq} bytes=${body.state.length}${body.links.length > 0 ? ` links=${body.links.length}` : ''}`
  }
}

/** Equal digests (or any two byte strings). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

/** A digest as a map key. */
export function digestKey(digest: Uint8Array): string {
  let text = ''
  for (let index = 0; index < digest.length; index++) text += String.fromCharCode(digest[index]!)
  return text
}
