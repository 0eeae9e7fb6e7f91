/**
 * The crdt scenario (loss, duplication, partitions, crashes with torn
 * writes) with documents compacted every few updates, and a y-websocket
 * server's view of each replica: a Y.Doc per document fed only the replica's
 * docChanged updates, started afresh with each incarnation as a server
 * process would be.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultCrdtConfig } from '../../core/crdt/config.ts'
import { docCanonicalState } from '../../core/crdt/doc.ts'
import { CrdtEngine, type CrdtAck, type CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { Ready } from '../../core/ready.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { crdtSpec, runCrdt } from '../../sim/scenarios/crdt.ts'

/** A replica with a server beside it that sees only the docChanged events of the Readies it hands out. */
class ServedEngine extends CrdtEngine {
  readonly served = new Map<string, Y.Doc>()

  override ready(): Ready<CrdtMessage, CrdtAck, CrdtEvent> {
    const ready = super.ready()
    for (const event of ready.events) {
      if (event.kind !== 'docChanged') continue
      let doc = this.served.get(event.key)
      if (doc === undefined) {
        doc = new Y.Doc()
        this.served.set(event.key, doc)
      }
      Y.applyUpdate(doc, event.update)
    }
    return ready
  }
}

const base: ScenarioOptions = { seed: 1, nodes: 4, loss: 0.05, partition: 'flaky', crashes: true, wire: true, trace: null }

describe('crdt scenario with document hooks', () => {
  it('holds every invariant with compaction every 3 updates, and each server document equals its replica', { timeout: 120_000 }, () => {
    let compactions = 0
    let servedDocs = 0
    for (const seed of [1, 2, 3]) {
      const latest = new Map<string, ServedEngine>()
      const result = runCrdt(
        { ...base, seed },
        {
          ...crdtSpec,
          create: (context) => {
            const engine = new ServedEngine({ ...context, config: { ...defaultCrdtConfig, docUpdatesBeforeCompaction: 3, docAppendedBytesMax: 256 } })
            latest.set(context.id, engine)
            return engine
          },
        },
      )
      expect(result.violations).toEqual([])
      for (const engine of latest.values()) {
        compactions += engine.status().metrics.docCompactions
        for (const { key, type } of engine.keyDigests()) {
          if (type !== 'doc') continue
          servedDocs++
          const replicaDoc = new Y.Doc()
          Y.applyUpdate(replicaDoc, engine.docUpdate(key)!)
          expect(docCanonicalState(engine.served.get(key)!)).toBe(docCanonicalState(replicaDoc))
          expect(engine.served.get(key)!.getText('text').toString()).toBe(engine.read(key))
        }
      }
    }
    expect(compactions).toBeGreaterThan(0)
    expect(servedDocs).toBeGreaterThan(0)
  })
})
