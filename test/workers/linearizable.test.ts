import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'
import { writeHistoryLine, registerOpsOf, type HistoryEntry } from '../../sim/checkers/jepsenHistory.ts'
import { checkLinearizable } from '../../sim/checkers/linearizability.ts'
import { api, leaderElected, regionIds } from './edgeCluster.ts'

const opsPerClient = 12
const keys = ['cfg/lin-a', 'cfg/lin-b']

describe('strong writes through the Raft group of region objects', () => {
  it('are linearizable: concurrent clients in every region, the history checked key by key', async () => {
    const seed = Date.now() % 1_000_000
    try {
      await leaderElected()
      const history: HistoryEntry[] = []
      const nowNs = () => Date.now() * 1_000_000
      let written = 0
      await Promise.all(
        regionIds.map(async (regionId, process) => {
          const rng = Rng.fromSeed(seed).split(regionId)
          for (let op = 0; op < opsPerClient; op++) {
            const key = keys[rng.int(keys.length)]!
            if (rng.int(2) === 0) {
              const value = `${regionId}-${written++}`
              history.push({ process, type: 'invoke', f: 'write', key, value, time: nowNs() })
              const answer = await api(regionId, 'PUT', `/v1/kv/${key}?consistency=strong`, { value })
              // Only a 200 says it happened; a refusal or a timeout may still take effect later (forwarded, then committed): unknown.
              history.push({ process, type: answer.status === 200 ? 'ok' : 'info', f: 'write', key, value, time: nowNs() })
            } else {
              history.push({ process, type: 'invoke', f: 'read', key, value: null, time: nowNs() })
              const answer = await api(regionId, 'GET', `/v1/kv/${key}?consistency=strong`)
              const type = answer.status === 200 || answer.status === 404 ? 'ok' : 'fail'
              history.push({ process, type, f: 'read', key, value: answer.status === 200 ? answer.body.value : null, time: nowNs() })
            }
          }
        }),
      )
      const ops = registerOpsOf(history)
      const completed = history.filter((entry) => entry.type === 'ok').length
      // Enough of the history answered for the check to mean something.
      expect(completed).toBeGreaterThanOrEqual((regionIds.length * opsPerClient) / 2)
      const result = checkLinearizable(ops)
      if (result.ok !== true) console.error(history.map(writeHistoryLine).join(''))
      expect(result).toEqual({ ok: true })
    } catch (error) {
      console.error(`linearizability test seed ${seed}`)
      throw error
    }
  })
})
