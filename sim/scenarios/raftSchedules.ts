/**
 * Fault schedules of the raft scenario that make Raft's dangerous situations happen on purpose,
 * rather than waiting for random faults to stumble on them. Each runs in cycles through the fault
 * window, watching the cluster and timing its partitions and crashes to what the nodes do:
 *
 * - deposedLeader: the leader is cut off while some clients keep reading through it and others
 *   write the same (hot) keys at the leader the rest elect. ReadIndex must not answer before a
 *   quorum confirms the old leader; a lease must run out before the others can elect (§6.4).
 * - powerLoss: the leader and the followers that acknowledged its latest entries (a quorum, cut
 *   off from the rest meanwhile) lose power together; unsynced writes are lost or torn.
 * - figure8: elections interleaved with partial replication, as in figure 8 of the Raft paper: a
 *   leader appends entries a minority holds; the others elect a leader that appends its own entries
 *   at the same indexes and is cut off at once; the first minority returns and a leader of a later
 *   term re-replicates the old entries. The moment a leader applies an entry of an earlier term it
 *   is cut off and the one holding the conflicting entries comes back: if the old entry was committed
 *   by counting replicas (and not through an entry of the leader's own term), it is overwritten.
 */
import type { Rng } from '../../core/lib/prng.ts'
import type { RaftApplied, RaftCommand, RaftEngine, RaftEvent, RaftStatus } from '../../core/raft/engine.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import type { Simulator } from '../simulator.ts'

export const raftSchedules = ['random', 'deposedLeader', 'powerLoss', 'figure8'] as const
export type RaftSchedule = (typeof raftSchedules)[number]

type RaftSim = Simulator<RaftCommand, RaftMessage, RaftApplied, RaftEvent>

/** What the schedules may ask of the scenario's clients. */
export interface RaftWorkloadControl {
  /**
   * Until `untilUs`, the clients named (default: all) issue only operations of `kind` (or any) and send them to `nodes`
   * only, following refusals among them; pinned to a single node, a client is let go when that node refuses.
   */
  pinClients(nodes: readonly number[], untilUs: number, kind: 'read' | 'write' | 'any', clients?: readonly number[]): void
  /** Until `untilUs`, clients choose among a few keys only, so that reads and writes meet on them. */
  hotKeysUntil(untilUs: number): void
  /** Proposes `count` writes at node `index` at once, recorded in the history like any client's. */
  burstWrites(index: number, count: number): void
}

export const raftScheduleTiming = {
  /** The deposed-leader cycle: how long the old leader stays cut off, and the pause before the next cut. */
  deposedCutUs: 700_000,
  deposedPauseUs: 500_000,
  /** The power-loss cycle: the quorum alone with the leader, then everyone of it crashes; restarts follow. */
  powerLossQuorumAloneUs: 250_000,
  powerLossFollowerDownUsMin: 100_000,
  powerLossFollowerDownUsMax: 400_000,
  powerLossLeaderDownUs: 900_000,
  powerLossPauseUs: 600_000,
  /** The figure-8 cycle: how long to wait for the rest to elect, the second leader's time alone, the wait for a leader to apply an old entry. */
  figure8ElectionWaitUs: 800_000,
  figure8SecondLeaderUs: 120_000,
  figure8ReturnWaitUs: 900_000,
  figure8PauseUs: 400_000,
  /** Writes proposed at once to the minority leader: more than one append message carries (see the scenario's batch size). */
  figure8BurstWrites: 12,
  /** Retry when there is no leader to work with. */
  retryUs: 100_000,
} as const

/** The live leader of the highest term, if any. */
export function currentLeader(sim: RaftSim): number {
  let best = -1
  let bestTerm = -1
  for (const node of sim.nodes) {
    const status = (node.engine as RaftEngine | null)?.status()
    if (status !== undefined && status.role === 'leader' && status.term > bestTerm) {
      best = node.index
      bestTerm = status.term
    }
  }
  return best
}

function statusOf(sim: RaftSim, index: number): RaftStatus | null {
  return (sim.nodes[index]!.engine as RaftEngine | null)?.status() ?? null
}

function others(sim: RaftSim, group: readonly number[]): number[] {
  return sim.nodes.map((node) => node.index).filter((index) => !group.includes(index))
}

function names(sim: RaftSim, group: readonly number[]): string {
  return group.map((index) => sim.nodes[index]!.id).join(',')
}

/** Voters of the leader's membership other than itself, as node indexes, that are up. */
function liveFollowers(sim: RaftSim, leader: number): number[] {
  return statusOf(sim, leader)!
    .voters.map((id) => sim.nodes.findIndex((node) => node.id === id))
    .filter((index) => index >= 0 && index !== leader && sim.isUp(index))
}

function quorumOf(sim: RaftSim, leader: number): number {
  return Math.floor(statusOf(sim, leader)!.voters.length / 2) + 1
}

export interface RaftScheduleCounters {
  cycles: number
  /** Figure 8: times a leader applied an earlier term's entry and was cut off while the conflicting log came back. */
  figure8Returns: number
}

/** Schedules `schedule`'s cycles from `startUs` to `endUs` (the caller heals and restarts everything at `endUs`). */
export function scheduleTargetedFaults(sim: RaftSim, rng: Rng, schedule: Exclude<RaftSchedule, 'random'>, control: RaftWorkloadControl, window: { startUs: number; endUs: number }): RaftScheduleCounters {
  const counters: RaftScheduleCounters = { cycles: 0, figure8Returns: 0 }
  const later = (delayUs: number, action: () => void) => {
    const atUs = sim.nowUs + delayUs
    if (atUs < window.endUs) sim.at(atUs, action)
  }

  const deposedLeader = (): void => {
    const leader = currentLeader(sim)
    if (leader < 0) return later(raftScheduleTiming.retryUs, deposedLeader)
    counters.cycles++
    const rest = others(sim, [leader])
    sim.network.partition([leader], rest)
    sim.note(`schedule deposedLeader: cut off ${sim.nodes[leader]!.id}`)
    const untilUs = sim.nowUs + raftScheduleTiming.deposedCutUs
    // Half the clients keep reading through the old leader; the others find the new one and write.
    control.pinClients([leader], untilUs, 'read', [0, 1])
    control.pinClients(rest, untilUs, 'write', [2, 3])
    control.hotKeysUntil(untilUs)
    later(raftScheduleTiming.deposedCutUs, () => {
      sim.network.heal()
      sim.note('schedule deposedLeader: heal')
      later(raftScheduleTiming.deposedPauseUs, deposedLeader)
    })
  }

  const powerLoss = (): void => {
    const leader = currentLeader(sim)
    if (leader < 0) return later(raftScheduleTiming.retryUs, powerLoss)
    const followers = rng.shuffle(liveFollowers(sim, leader)).slice(0, quorumOf(sim, leader) - 1)
    if (followers.length < quorumOf(sim, leader) - 1) return later(raftScheduleTiming.retryUs, powerLoss)
    counters.cycles++
    const group = [leader, ...followers]
    sim.network.partition(group, others(sim, group))
    sim.note(`schedule powerLoss: ${names(sim, group)} alone`)
    control.pinClients([leader], sim.nowUs + raftScheduleTiming.powerLossQuorumAloneUs, 'write')
    later(raftScheduleTiming.powerLossQuorumAloneUs, () => {
      // The quorum that acknowledged the leader's latest entries loses power together.
      for (const index of group) sim.crash(index)
      sim.network.heal()
      sim.note(`schedule powerLoss: ${names(sim, group)} lose power`)
      for (const follower of followers) later(rng.intBetween(raftScheduleTiming.powerLossFollowerDownUsMin, raftScheduleTiming.powerLossFollowerDownUsMax), () => sim.restart(follower))
      later(raftScheduleTiming.powerLossLeaderDownUs, () => {
        sim.restart(leader)
        later(raftScheduleTiming.powerLossPauseUs, powerLoss)
      })
    })
  }

  // Figure 8 reacts to elections and applies, so it watches every Ready.
  let figure8Phase: 'idle' | 'awaitSecondLeader' | 'awaitOldEntryApplied' = 'idle'
  let firstLeaderTerm = 0
  let minority: number[] = []
  let secondLeader = -1
  let cycleDeadlineUs = 0
  const cutOff = (isolated: number) => {
    sim.network.heal()
    sim.network.partition([isolated], others(sim, [isolated]))
  }
  const endFigure8Cycle = (): void => {
    figure8Phase = 'idle'
    sim.network.heal()
    sim.note('schedule figure8: heal')
    later(raftScheduleTiming.figure8PauseUs, figure8)
  }
  const figure8 = (): void => {
    const leader = currentLeader(sim)
    if (leader < 0) return later(raftScheduleTiming.retryUs, figure8)
    const voters = statusOf(sim, leader)!.voters.length
    const quorum = quorumOf(sim, leader)
    const followers = rng.shuffle(liveFollowers(sim, leader))
    if (followers.length < voters - 1) return later(raftScheduleTiming.retryUs, figure8)
    counters.cycles++
    // (a) The leader and the fewest followers that leave exactly a quorum to the rest: what it appends now is not
    // committed by them alone, and the rest can elect a leader of their own.
    minority = [leader, ...followers.slice(0, voters - quorum - 1)]
    firstLeaderTerm = statusOf(sim, leader)!.term
    sim.network.partition(minority, others(sim, minority))
    sim.note(`schedule figure8: ${names(sim, minority)} alone at t${firstLeaderTerm}`)
    control.burstWrites(leader, raftScheduleTiming.figure8BurstWrites)
    figure8Phase = 'awaitSecondLeader'
    cycleDeadlineUs = sim.nowUs + raftScheduleTiming.figure8ElectionWaitUs
    later(raftScheduleTiming.figure8ElectionWaitUs, () => {
      if (figure8Phase === 'awaitSecondLeader') endFigure8Cycle()
    })
  }
  const onSecondLeader = (index: number): void => {
    // (b) The majority's new leader appends entries of its term at the same indexes, then is cut off before it replicates them.
    secondLeader = index
    sim.network.partition([index], others(sim, [index]))
    sim.note(`schedule figure8: ${sim.nodes[index]!.id} leads t${statusOf(sim, index)!.term}, cut off at once`)
    control.burstWrites(index, raftScheduleTiming.figure8BurstWrites / 2)
    later(raftScheduleTiming.figure8SecondLeaderUs, () => {
      // (c) Everyone but the second leader: the first minority's longer log wins and is re-replicated.
      cutOff(secondLeader)
      figure8Phase = 'awaitOldEntryApplied'
      cycleDeadlineUs = sim.nowUs + raftScheduleTiming.figure8ReturnWaitUs
      later(raftScheduleTiming.figure8ReturnWaitUs, () => {
        if (figure8Phase === 'awaitOldEntryApplied') endFigure8Cycle()
      })
    })
  }
  const onOldEntryApplied = (index: number): void => {
    // (d) A leader applied an entry of an earlier term: cut it off, and let the second leader's log compete.
    counters.figure8Returns++
    cutOff(index)
    sim.note(`schedule figure8: ${sim.nodes[index]!.id} applied an earlier term's entry; cut off, ${sim.nodes[secondLeader]!.id} back`)
    later(raftScheduleTiming.figure8ReturnWaitUs, endFigure8Cycle)
  }
  if (schedule === 'figure8') {
    sim.observers.push({
      onReady: (node, ready) => {
        if (sim.nowUs >= window.endUs || sim.nowUs > cycleDeadlineUs) return
        const engine = node.engine as RaftEngine | null
        if (engine === null) return
        if (figure8Phase === 'awaitSecondLeader' && !minority.includes(node.index)) {
          if (ready.events.some((event) => event.kind === 'role' && event.role === 'leader' && event.term > firstLeaderTerm)) {
            figure8Phase = 'idle'
            sim.at(sim.nowUs, () => onSecondLeader(node.index))
          }
        } else if (figure8Phase === 'awaitOldEntryApplied' && node.index !== secondLeader) {
          const status = engine.status()
          if (status.role === 'leader' && ready.applied.some((applied) => applied.type === 'entry' && applied.term < status.term && applied.term >= firstLeaderTerm)) {
            figure8Phase = 'idle'
            sim.at(sim.nowUs, () => onOldEntryApplied(node.index))
          }
        }
      },
    })
  }

  const first = window.startUs + raftScheduleTiming.retryUs * 5
  sim.at(first, schedule === 'deposedLeader' ? deposedLeader : schedule === 'powerLoss' ? powerLoss : figure8)
  return counters
}
