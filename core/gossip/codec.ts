import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { describeGossipMessage, gossipMessageType, readGossipBody, writeGossipBody, type GossipMessage } from './messages.ts'

export const gossipCodec: EngineCodec<GossipMessage> = {
  engine: engineIds.gossip,
  typeOf: gossipMessageType,
  writeBody: writeGossipBody,
  readBody: readGossipBody,
  describe: describeGossipMessage,
}
