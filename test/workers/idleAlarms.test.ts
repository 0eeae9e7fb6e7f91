/**
 * Region objects sleep while idle: the kernel reports the next tick with work
 * (host/kernel.ts sleepWhenIdle) and the object's one alarm is set there, all
 * periodic timers on one probe interval (edgeReplicaConfig.ts). Over an idle
 * stretch of real time every region's alarms are counted (run by workerd, or
 * by `runDurableObjectAlarm` when due): at most one per probe interval, while
 * every tick still runs. Writes then still commit and converge.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { edgeTimingsMs } from '../../durable-objects/edgeReplicaConfig.ts'
import { api, eventually, leaderElected, regionIds, regionStub } from './edgeCluster.ts'

/** Idle probe intervals watched. */
const intervalsWatched = 4

/** Runs every region's alarm that is due, until `untilMs` (workerd runs them too; either way the object counts it). */
async function runDueAlarms(untilMs: number): Promise<void> {
  while (Date.now() < untilMs) {
    for (const regionId of regionIds) {
      const stub = regionStub(regionId)
      const alarmMs = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())
      if (alarmMs !== null && alarmMs <= Date.now()) await runDurableObjectAlarm(stub)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('idle region objects', () => {
  it('wake at most once per probe interval, and still tick every tick', async () => {
    await leaderElected()
    // Settle: the first digests, acknowledgements and mode decisions of a new cluster are not idle.
    const put = await eventually('a strong put', async () => {
      const answer = await api('weur', 'PUT', '/v1/kv/cfg/idle?consistency=strong', { value: 'before' })
      return answer.status === 200 ? answer : undefined
    })
    expect(put.body.path).toBe('raft')
    await runDueAlarms(Date.now() + 3 * edgeTimingsMs.probeInterval)

    const before = await Promise.all(regionIds.map((id) => regionStub(id).wakeCounters()))
    const startMs = Date.now()
    await runDueAlarms(startMs + intervalsWatched * edgeTimingsMs.probeInterval)
    const after = await Promise.all(regionIds.map((id) => regionStub(id).wakeCounters()))
    const elapsedMs = Date.now() - startMs
    const intervals = elapsedMs / edgeTimingsMs.probeInterval
    regionIds.forEach((regionId, index) => {
      const alarms = after[index]!.alarmsRun - before[index]!.alarmsRun
      const ticks = after[index]!.ticksRun + after[index]!.ticksSkipped - before[index]!.ticksRun - before[index]!.ticksSkipped
      const context = `${regionId}: ${alarms} alarms, ${ticks} ticks in ${elapsedMs} ms`
      // One alarm per probe interval begun (the window need not start on one).
      expect(alarms, context).toBeLessThanOrEqual(Math.ceil(intervals) + 1)
      // (No lower bound: a peer's delivery runs the ticks due before it, and may leave an alarm nothing to do.)
      // Asleep, not stopped: the ticks in between run at each wake (and at each peer's delivery), none skipped.
      expect(after[index]!.ticksSkipped, context).toBe(before[index]!.ticksSkipped)
      expect(ticks, context).toBeGreaterThanOrEqual(Math.floor((elapsedMs - 2 * edgeTimingsMs.probeInterval) / after[index]!.tickMs))
    })
  })

  it('make progress under writes once woken: a strong write commits and an eventual one converges everywhere', async () => {
    await leaderElected()
    const put = await eventually('a strong put after the idle stretch', async () => {
      const answer = await api('apac', 'PUT', '/v1/kv/cfg/idle?consistency=strong', { value: 'after' })
      return answer.status === 200 ? answer : undefined
    })
    expect(put.body.path).toBe('raft')
    const read = await api('enam', 'GET', '/v1/kv/cfg/idle?consistency=strong')
    expect(read.body).toMatchObject({ value: 'after', path: 'raft' })
    expect((await api('wnam', 'PUT', '/v1/kv/edge/idle', { value: 'woken' })).status).toBe(200)
    for (const regionId of regionIds) {
      await eventually(`edge/idle in ${regionId}`, async () => {
        const answer = await api(regionId, 'GET', '/v1/kv/edge/idle?consistency=eventual')
        return answer.status === 200 && answer.body.value === 'woken' ? answer : undefined
      })
    }
  })
})
