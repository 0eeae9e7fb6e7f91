import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { api, cluster, eventually, leaderElected, regionIds, regionStub } from './edgeCluster.ts'
import { edgeTimingsMs } from '../../durable-objects/edgeReplicaConfig.ts'

describe('region objects in workerd', () => {
  it('start as the configured cluster: one member per region, a Raft group of all, PBFT on the first four', async () => {
    const status = await api('weur', 'GET', '/v1/status')
    expect(status.status).toBe(200)
    expect(status.region).toBe('weur')
    expect(status.body.node).toBe('region-weur')
    expect(status.body.members).toBe(cluster.regions.length)
    const snapshot = await regionStub('enam').snapshot()
    expect(snapshot.node.id).toBe('region-enam')
    expect(cluster.pbft).toEqual(cluster.regions.slice(0, 4).map((region) => region.member))
  })

  it('elect one Raft leader among the region objects, alarms driving the ticks', async () => {
    const leader = await leaderElected()
    expect(cluster.raftVoters).toContain(leader)
  })

  it('converge: a write in one region is read in every other', async () => {
    const put = await api('weur', 'PUT', '/v1/kv/edge/greeting', { value: 'hello from weur' })
    expect(put.status).toBe(200)
    for (const regionId of regionIds) {
      const read = await eventually(`edge/greeting in ${regionId}`, async () => {
        const answer = await api(regionId, 'GET', '/v1/kv/edge/greeting?consistency=eventual')
        return answer.status === 200 && answer.body.value === 'hello from weur' ? answer : undefined
      })
      expect(read.body.key).toBe('edge/greeting')
    }
  })

  it('converge: counter increments in every region sum up in every region', async () => {
    for (const regionId of regionIds) {
      const inc = await api(regionId, 'POST', '/v1/crdt/cnt/visits', { op: 'inc', by: 2 })
      expect(inc.status).toBe(200)
      expect(inc.body.path).toBe('crdt')
    }
    for (const regionId of regionIds) {
      await eventually(`cnt/visits = ${2 * regionIds.length} in ${regionId}`, async () => {
        const answer = await api(regionId, 'GET', '/v1/kv/cnt/visits')
        return answer.status === 200 && answer.body.value === 2 * regionIds.length ? answer : undefined
      })
    }
  })

  it('take a strong write in one region and read it strongly in another', async () => {
    await leaderElected()
    const put = await eventually('a strong put', async () => {
      const answer = await api('enam', 'PUT', '/v1/kv/cfg/limit?consistency=strong', { value: '42' })
      return answer.status === 200 ? answer : undefined
    })
    expect(put.body.path).toBe('raft')
    const read = await api('apac', 'GET', '/v1/kv/cfg/limit?consistency=strong')
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({ key: 'cfg/limit', value: '42', path: 'raft' })
    expect(read.body.position.index).toBeGreaterThanOrEqual(put.body.position.index)
  })

  it('run their ticks from the alarm: one alarm at the next deadline, and running it ticks', async () => {
    const stub = regionStub('apac')
    const before = await stub.snapshot()
    const alarmMs = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())
    expect(alarmMs).not.toBeNull()
    // The object sleeps until the next tick with work (host/kernel.ts sleepWhenIdle): idle, that is at most one probe interval away.
    expect(alarmMs!).toBeLessThanOrEqual(Date.now() + edgeTimingsMs.probeInterval + before.kernel.ticks.tickMs)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, alarmMs! - Date.now()) + before.kernel.ticks.tickMs))
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    const after = await stub.snapshot()
    expect(after.kernel.ticks.ticksRun).toBeGreaterThan(before.kernel.ticks.ticksRun)
    // The alarm that ran set the next one.
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).not.toBeNull()
  })

  it('keep their state across eviction: the replica is rebuilt from SQLite', async () => {
    await leaderElected()
    await eventually('a strong put', async () => {
      const answer = await api('apac', 'PUT', '/v1/kv/cfg/kept?consistency=strong', { value: 'before eviction' })
      return answer.status === 200 ? answer : undefined
    })
    await api('apac', 'PUT', '/v1/kv/edge/kept', { value: 'auto before eviction' })
    // The leader may answer before apac itself applies the entry: evict only once apac holds it.
    await eventually('apac applied the strong put', async () => {
      const answer = await api('apac', 'GET', '/v1/kv/cfg/kept?consistency=eventual')
      return answer.body?.value === 'before eviction' ? answer : undefined
    })
    const stub = regionStub('apac')
    const bootBefore = (await stub.snapshot()).node.boot
    await evictDurableObject(stub)
    const after = await stub.snapshot()
    expect(after.node.boot).toBe(bootBefore + 1)
    // Follower reads of the published state need no leader: what apac applied before eviction is still there.
    const published = await api('apac', 'GET', '/v1/kv/cfg/kept?consistency=eventual')
    expect(published.body.value).toBe('before eviction')
    const auto = await api('apac', 'GET', '/v1/kv/edge/kept?consistency=eventual')
    expect(auto.body.value).toBe('auto before eviction')
    const strong = await eventually('a strong read after eviction', async () => {
      const answer = await api('apac', 'GET', '/v1/kv/cfg/kept?consistency=strong')
      return answer.status === 200 ? answer : undefined
    })
    expect(strong.body.value).toBe('before eviction')
  })
})
