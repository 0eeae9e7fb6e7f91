/**
 * The nemesis of an end-to-end run: while clients work, it injects one fault
 * at a time into a ProcessCluster, from a seed, and heals it before the next:
 *
 *   kill       kill -9 of a node (the leader half of the time), restarted
 *              from its data dir when the fault's time is up;
 *   partition  a node cut from every other (both directions, through each
 *              node's dev fault switch, POST /v1/admin/faults), then healed.
 *
 * Fault kinds take turns, and each has at least one, so every run has each kind. Needs a cluster
 * started with `dev: true` for partitions. What it did is returned (and
 * logged) as steps, for a failure message.
 */
import { Rng } from '../../core/lib/prng.ts'
import { apiCall, describeOutcome } from './apiCall.ts'
import type { ProcessCluster } from './processCluster.ts'

export type NemesisFault = 'kill' | 'partition'

export const nemesisLimits = {
  /** One admin or status call. */
  callTimeoutMs: 3_000,
  /** A restarted node answering its API again, before the next fault (faults do not pile up on a slow start). */
  restartAnswerMs: 30_000,
} as const

export interface NemesisOptions {
  readonly cluster: ProcessCluster
  readonly seed: number
  /** No new fault starts after this (once each kind had its turn); the last one is healed when its time is up. */
  readonly durationMs: number
  /** The kinds, in the order they take turns. */
  readonly faults: readonly NemesisFault[]
  /** How long a fault lasts, and the calm between two: random in these ranges (ms). */
  readonly faultMs?: readonly [number, number]
  readonly calmMs?: readonly [number, number]
  readonly log?: (line: string) => void
}

export interface NemesisStep {
  /** Milliseconds since the nemesis started. */
  readonly atMs: number
  readonly action: 'kill' | 'restart' | 'partition' | 'heal'
  readonly node: string
  readonly note: string
}

/** The leader one running node names, or null. */
export async function currentLeader(cluster: ProcessCluster): Promise<string | null> {
  for (const id of cluster.runningIds()) {
    try {
      const answer = await apiCall(cluster.url(id), 'GET', '/v1/status', { token: cluster.token, timeoutMs: nemesisLimits.callTimeoutMs })
      const leader = (answer.body as { leader?: unknown } | undefined)?.leader
      if (typeof leader === 'string') return leader
    } catch {
      // Try the next node.
    }
  }
  return null
}

/** Waits until node `id` answers GET /v1/status (bounded); returns a note for the step. */
async function answering(cluster: ProcessCluster, id: string): Promise<string> {
  const startedMs = performance.now()
  for (;;) {
    try {
      const answer = await apiCall(cluster.url(id), 'GET', '/v1/status', { token: cluster.token, timeoutMs: nemesisLimits.callTimeoutMs })
      if (answer.status === 200) return `answering after ${Math.round(performance.now() - startedMs)} ms`
    } catch {
      // Not listening yet.
    }
    if (performance.now() - startedMs > nemesisLimits.restartAnswerMs) return `not answering after ${nemesisLimits.restartAnswerMs} ms`
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Sets node `id`'s partition (null: heals it); returns a note of how it went. */
export async function setPartition(cluster: ProcessCluster, id: string, partition: readonly string[] | null): Promise<string> {
  try {
    const answer = await apiCall(cluster.url(id), 'POST', '/v1/admin/faults', { token: cluster.token, json: { partition }, timeoutMs: nemesisLimits.callTimeoutMs })
    return answer.status === 200 ? 'ok' : describeOutcome(answer)
  } catch (error) {
    return describeOutcome(error)
  }
}

/** Heals every partition, restarts every node that is down, and waits for a ready cluster; resolves with its leader. */
export async function healCluster(cluster: ProcessCluster): Promise<string> {
  for (const id of cluster.runningIds()) {
    const note = await setPartition(cluster, id, null)
    // A node that refuses connections is still starting: a new life has no faults.
    if (note !== 'ok' && note !== 'ECONNREFUSED') throw new Error(`healing ${id}'s partition: ${note}`)
  }
  for (const id of cluster.ids) if (!cluster.running(id)) cluster.spawn(id)
  return cluster.waitReady()
}

export async function runNemesis(options: NemesisOptions): Promise<NemesisStep[]> {
  const { cluster } = options
  const rng = Rng.fromSeed(options.seed)
  const faultMs = options.faultMs ?? [2_000, 4_000]
  const calmMs = options.calmMs ?? [1_000, 2_000]
  const steps: NemesisStep[] = []
  const startedMs = performance.now()
  const step = (action: NemesisStep['action'], node: string, note: string) => {
    const entry = { atMs: Math.round(performance.now() - startedMs), action, node, note }
    steps.push(entry)
    options.log?.(`nemesis ${entry.atMs} ms: ${action} ${node}${note === '' ? '' : ` (${note})`}`)
  }
  const sleep = (range: readonly [number, number]) => new Promise((resolve) => setTimeout(resolve, rng.intBetween(range[0], range[1])))

  // Every kind once, however slow the machine, then as many turns as the duration allows.
  const more = (turn: number) => turn < options.faults.length || performance.now() - startedMs < options.durationMs
  for (let turn = 0; more(turn); turn++) {
    await sleep(calmMs)
    if (!more(turn)) break
    const fault = options.faults[turn % options.faults.length]!
    const leader = rng.chance(0.5) ? await currentLeader(cluster) : null
    const running = cluster.runningIds()
    const target = leader !== null && running.includes(leader) ? leader : running[rng.int(running.length)]!
    const others = cluster.ids.filter((id) => id !== target)
    if (fault === 'kill') {
      await cluster.kill(target)
      step('kill', target, target === leader ? 'the leader' : '')
      await sleep(faultMs)
      cluster.spawn(target)
      step('restart', target, await answering(cluster, target))
    } else {
      const notes = [`${target}: ${await setPartition(cluster, target, others)}`]
      for (const other of others) if (cluster.running(other)) notes.push(`${other}: ${await setPartition(cluster, other, [target])}`)
      step('partition', target, `${target === leader ? 'the leader; ' : ''}${notes.join(', ')}`)
      await sleep(faultMs)
      const healed: string[] = []
      for (const id of cluster.runningIds()) healed.push(`${id}: ${await setPartition(cluster, id, null)}`)
      step('heal', target, healed.join(', '))
    }
  }
  return steps
}
