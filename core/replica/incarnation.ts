/**
 * A replica's incarnation (`boot`): one more than the last one stored, so
 * every restart is a new life. Forward answers carry it back (forwarding.ts),
 * so an answer meant for an earlier life never answers a new request.
 */
import { readUint, writeUint } from '../codec/fields.ts'
import { TwoSlotRecord } from '../codec/record.ts'

/** The replica's own storage keys (the engines' keys have prefixes of their own). */
export const replicaStorageKeys = {
  bootSlots: ['replica/boot/0', 'replica/boot/1'],
  /** The cluster configuration this node last applied (configurationRecord.ts). */
  configurationSlots: ['replica/configuration/0', 'replica/configuration/1'],
} as const

/** This node's incarnation, in two checksummed slots (a torn write spoils only the slot it overwrote). */
export function bootRecord(): TwoSlotRecord<number> {
  return new TwoSlotRecord<number>({
    keys: replicaStorageKeys.bootSlots,
    writeBody: (encoder, boot) => writeUint(encoder, boot),
    readBody: (decoder) => readUint(decoder, Number.MAX_SAFE_INTEGER, 'boot'),
    what: 'replica boot',
  })
}
