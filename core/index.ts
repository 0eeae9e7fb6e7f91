/**
 * The curated public API of the core. Hosts and tools import from here; the
 * files behind it may move.
 */
export type { Clock, NodeId, Signer, StorageReader, StorageWrite } from './ports.ts'
export { emptyReady, type Engine, type Outbound, type Ready, type Refusal } from './ready.ts'
export { assert, assertFailed, AssertionError } from './lib/assert.ts'
export { BoundedQueue } from './lib/queue.ts'
export { isValidId, limits } from './lib/limits.ts'
export { Rng } from './lib/prng.ts'
export { err, ok, type Result } from './lib/result.ts'
export type { DecodeError, DecodeErrorCode } from './codec/decodeError.ts'
export { engineIds, engineName, type EngineId, type EngineName } from './codec/engineIds.ts'
export { readMessageFrame, writeMessageFrame, type DecodedMessage, type EngineCodec, type FrameAddress } from './codec/engineCodec.ts'
export { decodeFrame, decodeWith, encodeFrame, encodeWith, protocolVersion, readEnvelope, writeEnvelope, type Envelope } from './codec/envelope.ts'
export { maxRegCodec } from './maxreg/codec.ts'
export { MaxRegEngine, type MaxRegAck, type MaxRegEvent, type MaxRegStatus, type MaxRegWrite } from './maxreg/engine.ts'
export type { MaxRegMessage } from './maxreg/messages.ts'
