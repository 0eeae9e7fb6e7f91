import type { EngineCodec } from '../codec/engineCodec.ts'
import { engineIds } from '../codec/engineIds.ts'
import { maxRegMessageType, readMaxRegBody, writeMaxRegBody, type MaxRegMessage } from './messages.ts'

export const maxRegCodec: EngineCodec<MaxRegMessage> = {
  engine: engineIds.maxreg,
  typeOf: maxRegMessageType,
  writeBody: writeMaxRegBody,
  readBody: readMaxRegBody,
  describe: (message) => `${message.type} ${message.value}`,
}
