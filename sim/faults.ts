/**
 * Random fault schedules shared by every scenario: partitions that come and
 * go, clogged links, and crash/restart of nodes, all drawn from the scenario's
 * seeded stream and all undone by `heal` when the fault window closes.
 */
import { assert } from '../core/lib/assert.ts'
import type { Rng } from '../core/lib/prng.ts'
import { poissonNextUs } from './poisson.ts'
import type { Simulator } from './simulator.ts'

export const partitionModes = ['none', 'halves', 'oneway', 'flaky'] as const
export type PartitionMode = (typeof partitionModes)[number]

export interface FaultPlan {
  /**
   * none: no partition; halves: a symmetric split for the whole window;
   * oneway: one half cannot reach the other for the whole window; flaky:
   * random splits, one-way cuts, isolated nodes and clogs come and go (when
   * one ends it heals the whole network, so overlapping faults end together).
   */
  readonly partition: PartitionMode
  readonly crashes: boolean
  /** Mean virtual time between two random faults of one kind. */
  readonly faultIntervalUsMean: number
  /** How long one random partition, clog or outage lasts: uniform in [min, max]. */
  readonly faultDurationUsMin: number
  readonly faultDurationUsMax: number
  /** At most this share of nodes is down at once (rounded down, at least 0). */
  readonly downShareMax: number
  /** The nodes that may crash, by index (absent: every node). */
  readonly crashable?: readonly number[]
  /** At most this many nodes down at once, when lower than `downShareMax` allows. */
  readonly downMax?: number
}

export const defaultFaultPlan: FaultPlan = {
  partition: 'flaky',
  crashes: true,
  faultIntervalUsMean: 1_000_000,
  faultDurationUsMin: 100_000,
  faultDurationUsMax: 2_000_000,
  downShareMax: 0.5,
}

export interface FaultWindow {
  readonly startUs: number
  readonly endUs: number
}

/** Schedules the plan's faults inside `window`; at `window.endUs` everything heals and every node restarts. */
export function scheduleFaults<C, M, A, E>(sim: Simulator<C, M, A, E>, rng: Rng, plan: FaultPlan, window: FaultWindow): void {
  assert(window.endUs > window.startUs, 'fault window must not be empty')
  const n = sim.nodes.length
  const all = sim.nodes.map((node) => node.index)
  const halves = (): [number[], number[]] => {
    const shuffled = rng.shuffle([...all])
    const cut = Math.max(1, Math.floor(n / 2))
    return [shuffled.slice(0, cut), shuffled.slice(cut)]
  }
  const ids = (indexes: readonly number[]) => indexes.map((index) => sim.nodes[index]!.id).join(',')

  if (n >= 2 && plan.partition === 'halves') {
    sim.at(window.startUs, () => {
      const [a, b] = halves()
      sim.network.partition(a, b)
      sim.note(`fault partition ${ids(a)} | ${ids(b)}`)
    })
  }
  if (n >= 2 && plan.partition === 'oneway') {
    sim.at(window.startUs, () => {
      const [a, b] = halves()
      sim.network.partitionOneWay(a, b)
      sim.note(`fault oneway ${ids(a)} -> ${ids(b)}`)
    })
  }
  if (n >= 2 && plan.partition === 'flaky') {
    forEachRandomTime(rng, plan, window, (atUs, untilUs) => {
      sim.at(atUs, () => {
        const [a, b] = halves()
        const shape = rng.int(4)
        if (shape === 0) {
          sim.network.partition(a, b)
          sim.note(`fault partition ${ids(a)} | ${ids(b)}`)
        } else if (shape === 1) {
          sim.network.partitionOneWay(a, b)
          sim.note(`fault oneway ${ids(a)} -> ${ids(b)}`)
        } else if (shape === 2) {
          const lonely = rng.pick(all)
          const others = all.filter((index) => index !== lonely)
          sim.network.partition([lonely], others)
          sim.note(`fault isolate ${sim.nodes[lonely]!.id}`)
        } else {
          const from = rng.pick(all)
          const to = rng.pick(all.filter((index) => index !== from))
          sim.network.clog(from, to, untilUs)
          sim.note(`fault clog ${sim.nodes[from]!.id}>${sim.nodes[to]!.id} until=${untilUs}`)
        }
      })
      sim.at(untilUs, () => {
        sim.network.heal()
        sim.note('fault heal')
      })
    })
  }
  const downMax = Math.min(Math.floor(n * plan.downShareMax), plan.downMax ?? n)
  const crashable = plan.crashable ?? all
  if (plan.crashes && downMax > 0 && crashable.length > 0) {
    forEachRandomTime(rng, plan, window, (atUs, untilUs) => {
      const victim = rng.pick(crashable)
      sim.at(atUs, () => {
        const down = sim.nodes.filter((node) => node.engine === null).length
        if (down >= downMax || !sim.isUp(victim)) return
        sim.crash(victim)
        sim.at(untilUs, () => sim.restart(victim))
      })
    })
  }
  sim.at(window.endUs, () => {
    sim.network.heal()
    for (const node of sim.nodes) sim.restart(node.index)
    sim.note('fault window closed: healed and restarted')
  })
}

/** Calls `each(startUs, endUs)` for faults whose starts form a Poisson process inside the window. */
function forEachRandomTime(rng: Rng, plan: FaultPlan, window: FaultWindow, each: (startUs: number, endUs: number) => void): void {
  let atUs = window.startUs
  for (;;) {
    atUs = poissonNextUs(rng, atUs, plan.faultIntervalUsMean)
    if (atUs >= window.endUs) return
    const untilUs = Math.min(window.endUs, atUs + rng.intBetween(plan.faultDurationUsMin, plan.faultDurationUsMax))
    each(atUs, untilUs)
  }
}
