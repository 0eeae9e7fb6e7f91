/**
 * A replica's messages on the wire: the envelope's engine is `replica`, its
 * type says which engine inside the replica the message is for, and the body
 * is that engine's type and body.
 *
 *   type  := index in replicaEngines
 *   body  := varuint inner type, inner body
 */
import { crdtCodec } from '../crdt/codec.ts'
import { gossipCodec } from '../gossip/codec.ts'
import { pbftCodec } from '../pbft/codec.ts'
import { raftCodec } from '../raft/codec.ts'
import { describeProbeMessage, probeMessageTypes, readProbeMessage, writeProbeMessage, type ProbeMessage } from '../adaptive/probeMessages.ts'
import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { fail } from '../codec/decodeError.ts'
import { readUint, writeUint } from '../codec/fields.ts'
import { limits } from '../lib/limits.ts'
import { describeForwardMessage, forwardTypes, readForwardMessage, writeForwardMessage, type ReplicaMessage, type ReplicaPeerMessage, type ReplicaMessageEngine } from './messages.ts'

export const replicaEngines: readonly ReplicaMessageEngine[] = ['crdt', 'gossip', 'raft', 'pbft', 'probe', 'replica']

const probeCodec: Omit<EngineCodec<ProbeMessage>, 'engine'> = {
  typeOf: (message) => probeMessageTypes[message.type],
  writeBody: writeProbeMessage,
  readBody: (type, decoder) => readProbeMessage(decoder, type),
  describe: describeProbeMessage,
}

const forwardCodec: Omit<EngineCodec<ReplicaPeerMessage>, 'engine'> = {
  typeOf: (message) => forwardTypes.indexOf(message.type),
  writeBody: writeForwardMessage,
  readBody: (type, decoder) => readForwardMessage(decoder, type),
  describe: describeForwardMessage,
}

type InnerCodec = Omit<EngineCodec<unknown>, 'engine'>

const inner: Record<ReplicaMessageEngine, InnerCodec> = {
  crdt: crdtCodec as InnerCodec,
  gossip: gossipCodec as InnerCodec,
  raft: raftCodec as InnerCodec,
  pbft: pbftCodec as InnerCodec,
  probe: probeCodec as InnerCodec,
  replica: forwardCodec as InnerCodec,
}

export const replicaCodec: EngineCodec<ReplicaMessage> = {
  engine: engineIds.replica,
  typeOf: (message) => replicaEngines.indexOf(message.engine),
  writeBody: (encoder, message) => {
    const codec = inner[message.engine]
    writeUint(encoder, codec.typeOf(message.message))
    codec.writeBody(encoder, message.message)
  },
  readBody: (type, decoder) => {
    const engine = replicaEngines[type]
    if (engine === undefined) fail('unknownType', `replica engine ${type} is not known`)
    const innerType = readUint(decoder, limits.messageTypesMax - 1, 'inner type')
    return { engine, message: inner[engine].readBody(innerType, decoder) } as ReplicaMessage
  },
  describe: (message) => `${message.engine}:${inner[message.engine].describe(message.message)}`,
}
