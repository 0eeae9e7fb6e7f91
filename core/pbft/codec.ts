import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { describePbftMessage, pbftMessageType, readPbftBody, writePbftBody, type PbftMessage } from './messages.ts'

export const pbftCodec: EngineCodec<PbftMessage> = {
  engine: engineIds.pbft,
  typeOf: pbftMessageType,
  writeBody: writePbftBody,
  readBody: readPbftBody,
  describe: describePbftMessage,
}
