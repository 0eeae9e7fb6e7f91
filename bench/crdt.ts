/**
 * crdt: local operations per second for every type (the engine's own path:
 * delta-mutator, then join), the merge rate of remote deltas, and bytes per
 * update; the Yjs document path side by side with plain Yjs doing the same
 * edits and producing the same updates, in the same process; and a document
 * edited through the whole engine (propose, Ready, advance), with the bytes
 * each edit writes to storage.
 */
import { driveUntilIdle, type DriverPorts } from '../host/driver.ts'
import * as Y from 'yjs'
import { encodeWith } from '../core/codec/envelope.ts'
import { CrdtEngine, type CrdtAck, type CrdtEvent } from '../core/crdt/engine.ts'
import type { CrdtMessage } from '../core/crdt/messages.ts'
import { HybridClock } from '../core/crdt/hlc.ts'
import { Rng } from '../core/lib/prng.ts'
import { applyOp, type CrdtOp } from '../core/crdt/ops.ts'
import { joinValueChanged, writeDelta, type Delta, type Value } from '../core/crdt/value.ts'
import { measureBatches, round, type Bench, type BenchResult } from './report.ts'

const batchSize = 1000

export const crdtBench: Bench = {
  name: 'crdt',
  summary: 'local operations and merges per second per CRDT type, bytes per update, the Yjs path against plain Yjs',
  run: ({ quick, progress }) => {
    const durationMs = quick ? 50 : 1500
    const results: BenchResult[] = []
    let wallMs = 0
    const clock = new HybridClock({ nowMs: () => 1_700_000_000_000 + Math.floor(wallMs++ / 1000) })
    const cases: [string, (index: number) => CrdtOp][] = [
      ['counter-inc', () => ({ type: 'counter', key: 'c', amount: 1 })],
      ['register-set', (index) => ({ type: 'register', key: 'r', value: `v${index & 1023}` })],
      ['mvregister-set', (index) => ({ type: 'mvregister', key: 'm', value: `v${index & 1023}` })],
      ['set-add-remove', (index) => ({ type: 'set', key: 's', action: index % 2 === 0 ? 'add' : 'remove', element: `e${index & 63}` })],
      ['map-put', (index) => ({ type: 'map', key: 'p', action: 'put', path: [`f${index & 15}`, 'g'], value: `v${index & 1023}` })],
      ['doc-insert', (index) => ({ type: 'doc', key: 'd', action: 'insert', index: 0, text: String.fromCharCode(97 + (index % 26)) })],
    ]
    for (const [name, makeOp] of cases) {
      progress(`crdt: ${name}`)
      let value: Value | undefined
      const deltas: Delta[] = []
      const measured = measureBatches(
        (index) => {
          const applied = applyOp(makeOp(index), value, 'a', clock)
          if (!applied.ok) throw new Error(`crdt bench: ${name} refused: ${applied.error.message}`)
          value = applied.value.value
          if (deltas.length < 1000) deltas.push(applied.value.delta)
        },
        batchSize,
        durationMs,
      )
      const bytes = deltas.reduce((sum, delta) => sum + encodeWith(delta, writeDelta).length, 0) / deltas.length
      results.push({ case: `op-${name}`, ...measured, bytes: round(bytes, 1) })
      if (name === 'doc-insert') continue
      // Merge: replica b joins a's deltas in order, starting over from nothing after the last one,
      // so that every join does real work rather than finding the delta known.
      let merged: Value | undefined
      const merge = measureBatches(
        (index) => {
          if (index % deltas.length === 0) merged = undefined
          merged = joinValueChanged(`k`, 'b', merged, deltas[index % deltas.length]!).value
        },
        batchSize,
        durationMs,
      )
      results.push({ case: `merge-${name}`, ...merge, bytes: round(bytes, 1) })
    }

    progress('crdt: plain Yjs')
    const plain = new Y.Doc({ gc: true })
    const plainText = plain.getText('text')
    let plainBytes = 0
    let plainCount = 0
    const plainRun = measureBatches(
      (index) => {
        const before = Y.encodeStateVector(plain)
        plainText.insert(0, String.fromCharCode(97 + (index % 26)))
        const update = Y.encodeStateAsUpdate(plain, before)
        if (plainCount < 1000) {
          plainBytes += update.length
          plainCount++
        }
      },
      batchSize,
      durationMs,
    )
    results.push({ case: 'yjs-plain-insert', ...plainRun, bytes: round(plainBytes / plainCount, 1) })
    results.push(engineDocEdits(durationMs, progress))
    const ours = results.find((result) => result.case === 'op-doc-insert')!
    results.push({ case: 'doc-path-vs-plain-yjs', opsPerSecond: ours.opsPerSecond, ratio: round(ours.opsPerSecond / plainRun.opsPerSecond, 3) })
    return results
  },
}

/** Characters in the document before the measured edits. */
const engineDocPrefillChars = 10_000

/**
 * Typing at the end of a document of engineDocPrefillChars characters, one
 * character per operation, through the engine and its Ready (storage writes
 * counted, not kept): what a server pays per keystroke of a client.
 */
function engineDocEdits(durationMs: number, progress: (message: string) => void): BenchResult {
  progress('crdt: engine doc edits')
  let wallMs = 0
  const engine = new CrdtEngine({ id: 'a', peers: ['a'], storage: { get: () => undefined, keys: () => [] }, rng: Rng.fromSeed(1), clock: { nowMs: () => 1_700_000_000_000 + Math.floor(wallMs++ / 1000) } })
  let bytesWritten = 0
  // The kernel's driver loop; storage writes are counted, not kept.
  const ports: DriverPorts<CrdtMessage, CrdtAck, CrdtEvent> = {
    storage: { write: (write) => (bytesWritten += write.value?.length ?? 0), sync: () => {} },
    transport: { send: () => {} },
    handled: () => {},
  }
  const drain = (): void => {
    driveUntilIdle(engine, ports)
  }
  let requestId = 0
  const insert = (index: number, text: string): void => {
    const refusal = engine.propose({ requestId: ++requestId, op: { type: 'doc', key: 'd', action: 'insert', index, text } })
    if (refusal !== null) throw new Error(`crdt bench: engine doc edit refused: ${refusal.message}`)
    drain()
  }
  drain()
  for (let chunk = 0; chunk < engineDocPrefillChars / 1000; chunk++) insert(chunk * 1000, 'x'.repeat(1000))
  bytesWritten = 0
  let edits = 0
  const measured = measureBatches(
    (index) => {
      insert(engineDocPrefillChars + index, String.fromCharCode(97 + (index % 26)))
      edits++
    },
    100,
    durationMs,
  )
  return { case: 'engine-doc-insert-10k', ...measured, bytes: round(bytesWritten / edits, 1) }
}
