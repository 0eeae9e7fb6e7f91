/**
 * The fault hotkeys on a simulated cluster, through the simulator's own
 * controls: a partition cuts one node off from every other, latency slows
 * every link of one node, kill is a crash (unsynced writes meet their fate as
 * in any simulated crash), restart brings it back from its storage. Heal
 * undoes partitions and latency. Everything happens at the current virtual
 * time, so a replay that applies the same faults at the same times is the same run.
 */
import type { LinkLatency, SimNetwork } from '../../../sim/network.ts'
import type { SimFault } from './simWorld.ts'

/** The part of a Simulator the faults use (any engine). */
export interface FaultableSim {
  readonly network: SimNetwork
  readonly nodes: readonly { readonly id: string }[]
  crash(index: number): void
  restart(index: number): void
  isUp(index: number): boolean
}

export const simFaultLimits = {
  /** A latency fault's round trip: beyond a minute it is a partition, and should be one. */
  rttMsMax: 60_000,
} as const

export class SimFaults {
  private readonly sim: FaultableSim
  /** Links whose latency a fault overrode, with what they had before (restored by heal). */
  private readonly saved = new Map<number, { readonly from: number; readonly to: number; readonly latency: LinkLatency }>()

  constructor(sim: FaultableSim) {
    this.sim = sim
  }

  apply(fault: SimFault): string {
    const { sim } = this
    const count = sim.nodes.length
    if (fault.kind === 'heal') {
      sim.network.heal()
      for (const { from, to, latency } of this.saved.values()) sim.network.setLatency(from, to, latency)
      this.saved.clear()
      return 'healed every link'
    }
    if (!Number.isInteger(fault.node) || fault.node < 0 || fault.node >= count) throw new RangeError(`no node at index ${fault.node}`)
    const id = sim.nodes[fault.node]!.id
    switch (fault.kind) {
      case 'partition': {
        const others = sim.nodes.map((_, index) => index).filter((index) => index !== fault.node)
        sim.network.partition([fault.node], others)
        return `partitioned ${id} from the other ${others.length} nodes`
      }
      case 'latency': {
        if (!(fault.rttMs > 0 && fault.rttMs <= simFaultLimits.rttMsMax)) throw new RangeError(`latency must be 0..${simFaultLimits.rttMsMax} ms, got ${fault.rttMs}`)
        const oneWay: LinkLatency = { baseUs: Math.round((fault.rttMs * 1000) / 2), jitterUs: Math.round((fault.rttMs * 1000) / 40) }
        for (let other = 0; other < count; other++) {
          if (other === fault.node) continue
          this.override(fault.node, other, oneWay)
          this.override(other, fault.node, oneWay)
        }
        return `${fault.rttMs} ms round trips on every link of ${id}`
      }
      case 'kill':
        if (!sim.isUp(fault.node)) return `${id} is down already`
        sim.crash(fault.node)
        return `killed ${id}`
      case 'restart':
        if (sim.isUp(fault.node)) return `${id} is up already`
        sim.restart(fault.node)
        return `restarted ${id}`
    }
  }

  private override(from: number, to: number, latency: LinkLatency): void {
    const key = from * this.sim.nodes.length + to
    if (!this.saved.has(key)) this.saved.set(key, { from, to, latency: this.sim.network.latency(from, to) })
    this.sim.network.setLatency(from, to, latency)
  }
}
