/**
 * A PBFT group's configuration and its epochs.
 *
 * The group changes only by a reconfiguration the group itself orders
 * (reconfiguration.ts). Each configuration has an epoch (0 for the group a
 * cluster starts with, +1 per reconfiguration) and the sequence number it
 * starts after: the group of epoch e orders (startSeq, ...] until the next one
 * takes over at the checkpoint that ends it. Every signed message names its
 * epoch, so no signature of one epoch can be replayed in another, and view
 * numbers start again at 0 in each.
 *
 * A checkpoint's digest covers the group that orders after it, beside the
 * executed state: stateDigest = digest(tag ‖ groupAfter ‖ digest(state)). A
 * stable checkpoint of epoch e at which a reconfiguration takes effect thus
 * certifies the next group, and the link (next group, digest(state), the
 * checkpoint proof of epoch e) lets a replica that trusts the group of epoch e
 * trust the group of epoch e+1 without the state: the chain a lagging replica
 * or a joining one follows (engine.ts, state transfer).
 * (The link is messages.ts `EpochLink`.)
 *
 *   groupConfig := epoch startSeq count (id publicKey)*
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { encodeWith } from '../codec/envelope.ts'
import { engineIds } from '../codec/engineIds.ts'
import { readBytes, readId, readUint, writeBytes, writeId, writeUint } from '../codec/fields.ts'
import type { NodeId, Signer } from '../ports.ts'
import { pbftLimits, type PbftReplica } from './config.ts'

export interface PbftGroupConfig {
  /** 0 for the group a cluster starts with; +1 for every reconfiguration. */
  readonly epoch: number
  /** The group orders the sequence numbers after this one (0 in epoch 0): the stable checkpoint at which it took over. */
  readonly startSeq: number
  readonly replicas: readonly PbftReplica[]
}

/** The bytes that precede a checkpoint digest's input, so that it is never the digest of anything else. */
const checkpointDigestTag = 201
const numberMax = Number.MAX_SAFE_INTEGER

export function writeGroupConfig(encoder: encoding.Encoder, config: PbftGroupConfig): void {
  writeUint(encoder, config.epoch)
  writeUint(encoder, config.startSeq)
  writeReplicas(encoder, config.replicas)
}

export function readGroupConfig(decoder: decoding.Decoder): PbftGroupConfig {
  const epoch = readUint(decoder, numberMax, 'epoch')
  const startSeq = readUint(decoder, numberMax, 'start seq')
  return { epoch, startSeq, replicas: readReplicas(decoder) }
}

export function writeReplicas(encoder: encoding.Encoder, replicas: readonly PbftReplica[]): void {
  writeUint(encoder, replicas.length)
  for (const replica of replicas) {
    writeId(encoder, replica.id)
    writeBytes(encoder, replica.publicKey)
  }
}

export function readReplicas(decoder: decoding.Decoder): PbftReplica[] {
  const count = readUint(decoder, pbftLimits.replicasMax, 'replicas')
  return Array.from({ length: count }, () => ({ id: readId(decoder, 'replica id'), publicKey: readBytes(decoder, pbftLimits.publicKeyBytesMax, 'public key') }))
}

export function sameGroupConfig(a: PbftGroupConfig, b: PbftGroupConfig): boolean {
  return a.epoch === b.epoch && a.startSeq === b.startSeq && sameReplicas(a.replicas, b.replicas)
}

export function sameReplicas(a: readonly PbftReplica[], b: readonly PbftReplica[]): boolean {
  return a.length === b.length && a.every((replica, index) => replica.id === b[index]!.id && sameKey(replica.publicKey, b[index]!.publicKey))
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

/** The digest a checkpoint signs: the group that orders after it and the digest of the executed state at it. */
export function checkpointDigest(signer: Pick<Signer, 'digest'>, groupAfter: PbftGroupConfig, machineDigest: Uint8Array): Uint8Array {
  return signer.digest(
    encodeWith({ groupAfter, machineDigest }, (encoder, held) => {
      writeUint(encoder, engineIds.pbft)
      writeUint(encoder, checkpointDigestTag)
      writeGroupConfig(encoder, held.groupAfter)
      writeBytes(encoder, held.machineDigest)
    }),
  )
}

/** Ids of a configuration's replicas, in its order. */
export function idsOf(config: PbftGroupConfig): NodeId[] {
  return config.replicas.map((replica) => replica.id)
}
