import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { SqlStorage, sqlStorageLimits } from '../../durable-objects/sqlStorage.ts'

/** An object of the namespace that is no region: it does not start a replica, and its SQLite database is the test's own. */
function scratchObject(name: string) {
  return env.REGION.getByName(`scratch:${name}`)
}

const bytes = (...values: number[]) => Uint8Array.from(values)

describe('SqlStorage over ctx.storage.sql', () => {
  it('reads back what it wrote, deletes, and lists keys by prefix in code-unit order', async () => {
    await runInDurableObject(scratchObject('basic'), (_instance, state) => {
      const storage = new SqlStorage(state.storage)
      expect(storage.get('raft/hard')).toBeUndefined()
      storage.write({ key: 'raft/hard', value: bytes(1, 2, 3) })
      storage.write({ key: 'raft/log/2', value: bytes(4) })
      storage.write({ key: 'raft/log/10', value: bytes(5) })
      storage.write({ key: 'raftx', value: bytes(6) })
      storage.write({ key: 'crdt/é', value: new Uint8Array(0) })
      expect(storage.get('raft/hard')).toEqual(bytes(1, 2, 3))
      expect(storage.get('crdt/é')).toEqual(new Uint8Array(0))
      expect(storage.keys('raft/')).toEqual(['raft/hard', 'raft/log/10', 'raft/log/2'])
      expect(storage.keys('')).toEqual(['crdt/é', 'raft/hard', 'raft/log/10', 'raft/log/2', 'raftx'])
      storage.write({ key: 'raft/hard', value: bytes(9) })
      expect(storage.get('raft/hard')).toEqual(bytes(9))
      storage.write({ key: 'raft/log/2', value: null })
      expect(storage.get('raft/log/2')).toBeUndefined()
      expect(storage.keys('raft/log/')).toEqual(['raft/log/10'])
      storage.sync()
      expect(storage.metrics).toMatchObject({ writes: 7, syncs: 1 })
    })
  })

  it('stores a value larger than a SQLite row may hold in parts, and shrinks it again', async () => {
    await runInDurableObject(scratchObject('large'), (_instance, state) => {
      const storage = new SqlStorage(state.storage)
      const large = new Uint8Array(2 * sqlStorageLimits.partBytesMax + 12_345)
      for (let index = 0; index < large.length; index++) large[index] = (index * 31) & 0xff
      storage.write({ key: 'raft/snapshot', value: large })
      expect(storage.get('raft/snapshot')).toEqual(large)
      expect(storage.keys('raft/')).toEqual(['raft/snapshot'])
      expect(storage.metrics.partsWritten).toBe(3)
      storage.write({ key: 'raft/snapshot', value: bytes(7) })
      expect(storage.get('raft/snapshot')).toEqual(bytes(7))
      expect(state.storage.sql.exec('SELECT count(*) AS parts FROM kv').one().parts).toBe(1)
    })
  })

  it('survives the object: a new instance over the same storage reads the same values', async () => {
    const stub = scratchObject('again')
    await runInDurableObject(stub, (_instance, state) => new SqlStorage(state.storage).write({ key: 'gossip/incarnation', value: bytes(3) }))
    expect(await runInDurableObject(stub, (_instance, state) => new SqlStorage(state.storage).get('gossip/incarnation'))).toEqual(bytes(3))
  })

  it('refuses a value over valueBytesMax with a clear error', async () => {
    await runInDurableObject(scratchObject('limit'), (_instance, state) => {
      const storage = new SqlStorage(state.storage)
      expect(() => storage.write({ key: 'big', value: new Uint8Array(sqlStorageLimits.valueBytesMax + 1) })).toThrow(/valueBytesMax/)
      expect(storage.get('big')).toBeUndefined()
    })
  })
})
