import { describe, expect, it } from 'vitest'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { eventually } from './edgeCluster.ts'
import { WorkerSocket } from './workerSocket.ts'

/** A stock y-websocket client on document `name` through the region `regionId`. */
function client(regionId: string, name: string) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider('ws://edge.test/v1/docs', name, doc, { WebSocketPolyfill: WorkerSocket as never, params: { region: regionId }, disableBc: true })
  return { doc, provider, text: doc.getText('body') }
}

describe('Yjs documents through region objects', () => {
  it('an edit through one region reaches a stock y-websocket client of another, both ways', async () => {
    const eu = client('weur', 'notes')
    const ap = client('apac', 'notes')
    try {
      await eventually('both clients synced', async () => (eu.provider.synced && ap.provider.synced ? true : undefined))
      eu.text.insert(0, 'hello from weur')
      await eventually('apac sees the weur edit', async () => (ap.text.toString() === 'hello from weur' ? true : undefined))
      ap.text.insert(ap.text.length, ', and apac')
      await eventually('weur sees the apac edit', async () => (eu.text.toString() === 'hello from weur, and apac' ? true : undefined))
      expect(ap.text.toString()).toBe(eu.text.toString())
    } finally {
      eu.provider.destroy()
      ap.provider.destroy()
    }
  })
})
