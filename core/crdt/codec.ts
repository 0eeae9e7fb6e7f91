import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { crdtMessageType, describeCrdtMessage, readCrdtBody, writeCrdtBody, type CrdtMessage } from './messages.ts'

export const crdtCodec: EngineCodec<CrdtMessage> = {
  engine: engineIds.crdt,
  typeOf: crdtMessageType,
  writeBody: writeCrdtBody,
  readBody: readCrdtBody,
  describe: describeCrdtMessage,
}
