/**
 * Engine numbers on the wire. A number, once given, is never reused for
 * another engine: old frames must not be misread by a new build.
 */
export const engineIds = {
  maxreg: 1,
  crdt: 2,
  gossip: 3,
  raft: 4,
  pbft: 5,
  replica: 6,
  /** Not an engine: one piece of a message larger than a frame (core/codec/chunks.ts). */
  chunk: 7,
} as const

export type EngineName = keyof typeof engineIds
export type EngineId = (typeof engineIds)[EngineName]

const namesById = new Map<number, EngineName>((Object.keys(engineIds) as EngineName[]).map((name) => [engineIds[name], name]))

export function engineName(id: number): EngineName | undefined {
  return namesById.get(id)
}
