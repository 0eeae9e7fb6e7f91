import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { describeRaftMessage, raftMessageType, readRaftBody, writeRaftBody, type RaftMessage } from './messages.ts'

export const raftCodec: EngineCodec<RaftMessage> = {
  engine: engineIds.raft,
  typeOf: raftMessageType,
  writeBody: writeRaftBody,
  readBody: readRaftBody,
  describe: describeRaftMessage,
}
