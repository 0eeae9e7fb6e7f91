/**
 * codec: peer frames per second through the envelope codec, small (a
 * max-register push, the commonest gossip shape) and with a 4 KiB body.
 */
import { readMessageFrame, writeMessageFrame, type EngineCodec } from '../core/codec/engineCodec.ts'
import { decodeFrame, encodeFrame, protocolVersion, type Envelope } from '../core/codec/envelope.ts'
import { engineIds } from '../core/codec/engineIds.ts'
import { maxRegCodec } from '../core/maxreg/codec.ts'
import type { MaxRegMessage } from '../core/maxreg/messages.ts'
import { measureBatches, type Bench, type BenchResult } from './report.ts'

const batchSize = 1000

export const codecBench: Bench = {
  name: 'codec',
  summary: 'peer frames encoded and decoded per second, bytes per frame',
  run: ({ quick, progress }) => {
    const durationMs = quick ? 50 : 1500
    const results: BenchResult[] = []
    const ids = Array.from({ length: 1000 }, (_, index) => `n${index + 1}`)
    const address = (index: number) => ({ clusterId: 'bench', from: ids[index % 1000]!, to: ids[(index * 7 + 1) % 1000]! })

    const codec: EngineCodec<MaxRegMessage> = maxRegCodec
    const pushes: MaxRegMessage[] = Array.from({ length: 1000 }, (_, index) => ({ type: 'push', value: 1_000_000 + index * 7919 }))
    const smallFrames = pushes.map((message, index) => writeMessageFrame(codec, address(index), message))
    progress('codec: small frames')
    results.push({
      case: 'encode-maxreg-push',
      ...measureBatches((index) => writeMessageFrame(codec, address(index), pushes[index % 1000]!), batchSize, durationMs),
      bytes: average(smallFrames.map((frame) => frame.length)),
    })
    results.push({
      case: 'decode-maxreg-push',
      ...measureBatches((index) => mustDecode(readMessageFrame(codec, smallFrames[index % 1000]!).ok), batchSize, durationMs),
      bytes: average(smallFrames.map((frame) => frame.length)),
    })

    progress('codec: 4 KiB bodies')
    const body = new Uint8Array(4096).map((_, index) => (index * 31) & 0xff)
    const envelopes: Envelope[] = ids.slice(0, 100).map((from, index) => ({ version: protocolVersion, ...address(index), from, engine: engineIds.crdt, type: 1, body }))
    const largeFrames = envelopes.map(encodeFrame)
    results.push({
      case: 'encode-envelope-4KiB',
      ...measureBatches((index) => encodeFrame(envelopes[index % 100]!), batchSize / 10, durationMs),
      bytes: average(largeFrames.map((frame) => frame.length)),
    })
    results.push({
      case: 'decode-envelope-4KiB',
      ...measureBatches((index) => mustDecode(decodeFrame(largeFrames[index % 100]!).ok), batchSize / 10, durationMs),
      bytes: average(largeFrames.map((frame) => frame.length)),
    })
    return results
  },
}

function average(values: readonly number[]): number {
  return Math.round((values.reduce((sum, value) => sum + value, 0) / values.length) * 10) / 10
}

/** A benchmark that silently measured failures would lie; stop instead. */
function mustDecode(ok: boolean): void {
  if (!ok) throw new Error('codec bench: a frame it encoded did not decode')
}
