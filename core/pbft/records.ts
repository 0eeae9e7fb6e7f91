/**
 * What a PBFT replica keeps in storage, so that a restart (even of every
 * replica at once) loses nothing its safety or the clients' acknowledgements
 * rest on. Every key is under `pbft/`:
 *
 *   pbft/view/0, pbft/view/1           the group epoch, the view in it and whether it is changing (two slots, see TwoSlotRecord)
 *   pbft/newView/0, pbft/newView/1     the new-view message of the view it installed (relayed to replicas behind)
 *   pbft/stable/0, pbft/stable/1       the stable checkpoint: seq, its proof, the executed state at it
 *                                      (state machine and client table, core/pbft/executor.ts), and the
 *                                      group that orders after it with the epoch links that lead to it
 *                                      (groupConfig.ts): the group changes only at a stable checkpoint,
 *                                      so one record holds both and no crash can part them
 *   pbft/s/<seq>/<view>/p              a pre-prepare this replica accepted (or sent) and its batch
 *   pbft/s/<seq>/<view>/c              the prepares of the certificate it formed for that pre-prepare
 *   pbft/s/<seq>/d                     the slot's decision: epoch, view, digest, and the batch unless the p record of that view holds it
 *
 * Slot records of another epoch than the stable record's group are obsolete
 * (an epoch's slots above its last checkpoint are void) and deleted on recovery.
 *
 * Sequence numbers and views are written with 16 digits, so keys sort by
 * number. Every record carries a checksum: a record torn by a crash reads as
 * absent. Slot records are written once, under a key of their own, and never
 * overwritten: a torn write spoils only the record it was writing, which no
 * message depended on yet (the engine syncs before sending). The view and the
 * checkpoint are overwritten, so each lives in two slots.
 *
 * Each record is written in the Ready of the step that makes it true, with
 * mustSync, before the message that depends on it leaves: the p record before
 * this replica's prepare (or, at the primary, its pre-prepare), the c record
 * before its commit, the view before its view change or anything of a new
 * view (and its new-view message with it), the d record before its replies. Records at or below the stable
 * checkpoint are deleted one Ready after the checkpoint is written, when it is
 * synced.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { readChecksummed, TwoSlotRecord, writeChecksummed } from '../codec/record.ts'
import { readBytes, readUint, writeBytes, writeUint } from '../codec/fields.ts'
import type { StorageReader, StorageWrite } from '../ports.ts'
import { readGroupConfig, writeGroupConfig, type PbftGroupConfig } from './groupConfig.ts'
import { pbftLimits } from './config.ts'
import {
  pbftMessageType,
  readBatch,
  readEpochLinks,
  writeEpochLinks,
  readPbftBody,
  readSigned,
  readSignedList,
  writeBatch,
  writePbftBody,
  writeSigned,
  writeSignedList,
  type Batch,
  type CheckpointBody,
  type EpochLink,
  type OrderBody,
  type PbftMessage,
  type Signed,
} from './messages.ts'

export const pbftStorageKeys = {
  viewSlots: ['pbft/view/0', 'pbft/view/1'],
  newViewSlots: ['pbft/newView/0', 'pbft/newView/1'],
  stableSlots: ['pbft/stable/0', 'pbft/stable/1'],
  slotPrefix: 'pbft/s/',
} as const

const numberDigits = 16
/** Digests are at most this long (32 bytes on real hosts). */
const digestBytesMax = 64

function padded(value: number): string {
  return String(value).padStart(numberDigits, '0')
}

export function prePrepareKey(seq: number, view: number): string {
  return `${pbftStorageKeys.slotPrefix}${padded(seq)}/${padded(view)}/p`
}

export function certificateKey(seq: number, view: number): string {
  return `${pbftStorageKeys.slotPrefix}${padded(seq)}/${padded(view)}/c`
}

export function decidedKey(seq: number): string {
  return `${pbftStorageKeys.slotPrefix}${padded(seq)}/d`
}

/** Every key of one slot's records starts with this. */
export function slotKeyPrefix(seq: number): string {
  return `${pbftStorageKeys.slotPrefix}${padded(seq)}/`
}

// ----- the view -----

export interface ViewRecord {
  /** The group epoch the view is of (views start again at 0 in each epoch). */
  readonly epoch: number
  readonly view: number
  readonly changing: boolean
}

export function viewRecord(): TwoSlotRecord<ViewRecord> {
  return new TwoSlotRecord<ViewRecord>({
    keys: pbftStorageKeys.viewSlots,
    writeBody: (encoder, record) => {
      writeUint(encoder, record.view)
      writeUint(encoder, record.changing ? 1 : 0)
      writeUint(encoder, record.epoch)
    },
    readBody: (decoder) => ({ view: readUint(decoder, Number.MAX_SAFE_INTEGER, 'view'), changing: readUint(decoder, 1, 'changing') === 1, epoch: readUint(decoder, Number.MAX_SAFE_INTEGER, 'epoch') }),
    what: 'pbft view',
  })
}

/**
 * The new-view message of the installed view: a replica still in an older
 * view installs the current one only from it, so a group whose members all
 * restarted must still be able to hand it on.
 */
export function newViewRecord(): TwoSlotRecord<PbftMessage> {
  return new TwoSlotRecord<PbftMessage>({
    keys: pbftStorageKeys.newViewSlots,
    writeBody: (encoder, message) => {
      writeUint(encoder, pbftMessageType(message))
      writePbftBody(encoder, message)
    },
    readBody: (decoder) => readPbftBody(readUint(decoder, 255, 'message type'), decoder),
    what: 'pbft new view',
  })
}

// ----- the stable checkpoint -----

export interface StableRecord {
  readonly seq: number
  readonly proof: readonly Signed<CheckpointBody>[]
  /** The executed state at `seq` (Executor.snapshot). */
  readonly state: Uint8Array
  /** The group that orders after `seq` (a reconfiguration's new group when `seq` is its start). */
  readonly group: PbftGroupConfig
  /** The group of the epoch before `group` (its late replies and statuses are still taken), or null. */
  readonly previous: PbftGroupConfig | null
  /** The last epoch links up to `group` (at most pbftLimits.epochLinksKept), for replicas of older epochs. */
  readonly links: readonly EpochLink[]
}

export function stableRecord(): TwoSlotRecord<StableRecord> {
  return new TwoSlotRecord<StableRecord>({
    keys: pbftStorageKeys.stableSlots,
    writeBody: (encoder, record) => {
      writeUint(encoder, record.seq)
      writeSignedList(encoder, record.proof)
      writeBytes(encoder, record.state)
      writeGroupConfig(encoder, record.group)
      writeUint(encoder, record.previous === null ? 0 : 1)
      if (record.previous !== null) writeGroupConfig(encoder, record.previous)
      writeEpochLinks(encoder, record.links)
    },
    readBody: (decoder) => ({
      seq: readUint(decoder, Number.MAX_SAFE_INTEGER, 'seq'),
      proof: readSignedList(decoder, 'checkpoint', pbftLimits.replicasMax, 'checkpoints'),
      state: readBytes(decoder, pbftLimits.stateBytesMax, 'state'),
      group: readGroupConfig(decoder),
      previous: readUint(decoder, 1, 'previous group flag') === 1 ? readGroupConfig(decoder) : null,
      links: readEpochLinks(decoder),
    }),
    what: 'pbft stable checkpoint',
  })
}

// ----- slot records -----

export interface PrePrepareRecord {
  readonly prePrepare: Signed<OrderBody>
  readonly batch: Batch
}

export function writePrePrepareRecord(record: PrePrepareRecord): StorageWrite {
  const { seq, view } = record.prePrepare.body
  return {
    key: prePrepareKey(seq, view),
    value: writeChecksummed(record, (encoder, held) => {
      writeSigned(encoder, held.prePrepare)
      writeBatch(encoder, held.batch)
    }),
  }
}

function readPrePrepareRecord(decoder: decoding.Decoder): PrePrepareRecord {
  return { prePrepare: readSigned(decoder, 'prePrepare'), batch: readBatch(decoder) }
}

/** The certificate's prepares; its pre-prepare and batch are the p record of the same view. */
export function writeCertificateRecord(seq: number, view: number, prepares: readonly Signed<OrderBody>[]): StorageWrite {
  return { key: certificateKey(seq, view), value: writeChecksummed(prepares, writeSignedList) }
}

function readCertificateRecord(decoder: decoding.Decoder): Signed<OrderBody>[] {
  return readSignedList(decoder, 'prepare', pbftLimits.replicasMax, 'prepares')
}

export interface DecidedRecord {
  readonly epoch: number
  readonly view: number
  readonly digest: Uint8Array
  /** Null when the p record of `view` holds the batch. */
  readonly batch: Batch | null
}

export function writeDecidedRecord(seq: number, record: DecidedRecord): StorageWrite {
  return {
    key: decidedKey(seq),
    value: writeChecksummed(record, (encoder: encoding.Encoder, held) => {
      writeUint(encoder, held.epoch)
      writeUint(encoder, held.view)
      writeBytes(encoder, held.digest)
      writeUint(encoder, held.batch === null ? 0 : 1)
      if (held.batch !== null) writeBatch(encoder, held.batch)
    }),
  }
}

function readDecidedRecord(decoder: decoding.Decoder): DecidedRecord {
  const epoch = readUint(decoder, Number.MAX_SAFE_INTEGER, 'epoch')
  const view = readUint(decoder, Number.MAX_SAFE_INTEGER, 'view')
  const digest = readBytes(decoder, digestBytesMax, 'digest')
  const batch = readUint(decoder, 1, 'batch flag') === 1 ? readBatch(decoder) : null
  return { epoch, view, digest, batch }
}

/** One sequence number's records as storage holds them (intact ones only). */
export interface StoredSlot {
  readonly seq: number
  readonly prePrepares: Map<number, PrePrepareRecord>
  readonly certificates: Map<number, Signed<OrderBody>[]>
  decided: DecidedRecord | null
}

/**
 * Reads every slot record. A record that does not decode (torn), names
 * another slot than its key, is of another epoch than `epoch`, or lies
 * outside `keep` is returned among `deletes`.
 */
export function loadSlots(storage: StorageReader, epoch: number, keep: (seq: number, view: number | null) => boolean): { slots: Map<number, StoredSlot>; deletes: StorageWrite[] } {
  const slots = new Map<number, StoredSlot>()
  const deletes: StorageWrite[] = []
  for (const key of storage.keys(pbftStorageKeys.slotPrefix)) {
    const parts = key.slice(pbftStorageKeys.slotPrefix.length).split('/')
    const seq = Number(parts[0])
    const view = parts.length === 3 ? Number(parts[1]) : null
    const kind = parts[parts.length - 1]
    const bytes = storage.get(key)!
    const slotOf = (): StoredSlot => {
      let slot = slots.get(seq)
      if (slot === undefined) slots.set(seq, (slot = { seq, prePrepares: new Map(), certificates: new Map(), decided: null }))
      return slot
    }
    let intact = Number.isSafeInteger(seq) && keep(seq, view)
    if (intact && kind === 'p' && view !== null) {
      const record = readChecksummed(bytes, readPrePrepareRecord, 'pbft pre-prepare')
      intact = record.ok && record.value.prePrepare.body.seq === seq && record.value.prePrepare.body.view === view && record.value.prePrepare.body.epoch === epoch
      if (record.ok && intact) slotOf().prePrepares.set(view, record.value)
    } else if (intact && kind === 'c' && view !== null) {
      const record = readChecksummed(bytes, readCertificateRecord, 'pbft certificate')
      intact = record.ok && record.value.every((prepare) => prepare.body.epoch === epoch)
      if (record.ok && intact) slotOf().certificates.set(view, record.value)
    } else if (intact && kind === 'd' && view === null) {
      const record = readChecksummed(bytes, readDecidedRecord, 'pbft decision')
      intact = record.ok && record.value.epoch === epoch
      if (record.ok && intact) slotOf().decided = record.value
    } else intact = false
    if (!intact) deletes.push({ key, value: null })
  }
  return { slots, deletes }
}
