/**
 * The dev fault switch of one node's peer links (POST /v1/admin/faults with
 * --dev): partition from some peers, added latency, random loss, pause. The
 * links consult it on every frame; changes apply to the next frame (and a new
 * partition also empties the queues of the peers it cuts off).
 */
import type { NodeId } from '../../core/index.ts'
import { faultLimits, noFaults, type FaultChange, type FaultControl, type FaultState } from '../../host/faults.ts'

export type FaultDrop = 'partition' | 'loss' | 'paused'

export class FaultSwitch implements FaultControl {
  private current: FaultState = noFaults
  private cut: ReadonlySet<NodeId> = new Set()
  private readonly listeners: ((state: FaultState) => void)[] = []
  private readonly random: () => number

  constructor(random: () => number = Math.random) {
    this.random = random
  }

  state(): FaultState {
    return { ...this.current, partition: this.current.partition === null ? null : [...this.current.partition] }
  }

  set(change: FaultChange): FaultState {
    const next: FaultState = { ...this.current, ...definedFields(change) }
    checkFaults(next)
    this.current = { ...next, partition: next.partition === null ? null : [...new Set(next.partition)].sort() }
    this.cut = new Set(this.current.partition ?? [])
    for (const listener of this.listeners) listener(this.state())
    return this.state()
  }

  /** Called after every change (the links purge queues, the runtime stops or restarts its ticks). */
  onChange(listener: (state: FaultState) => void): void {
    this.listeners.push(listener)
  }

  get paused(): boolean {
    return this.current.pause
  }

  get latencyMs(): number {
    return this.current.latencyMs ?? 0
  }

  isCutFrom(peer: NodeId): boolean {
    return this.cut.has(peer)
  }

  /** Why a frame to or from `peer` is dropped here, or null when it passes. */
  drops(peer: NodeId): FaultDrop | null {
    if (this.current.pause) return 'paused'
    if (this.cut.has(peer)) return 'partition'
    const loss = this.current.loss
    if (loss !== null && loss > 0 && this.random() < loss) return 'loss'
    return null
  }
}

function definedFields(change: FaultChange): FaultChange {
  return Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)) as FaultChange
}

function checkFaults(state: FaultState): void {
  const { partition, latencyMs, loss, pause } = state
  if (partition !== null) {
    if (!Array.isArray(partition) || partition.some((peer) => typeof peer !== 'string')) throw new RangeError('partition must be a list of node ids or null')
    if (partition.length > faultLimits.partitionPeersMax) throw new RangeError(`partition names ${partition.length} peers, partitionPeersMax=${faultLimits.partitionPeersMax}`)
  }
  if (latencyMs !== null && !(Number.isFinite(latencyMs) && latencyMs >= 0 && latencyMs <= faultLimits.latencyMsMax)) throw new RangeError(`latencyMs must be 0 to latencyMsMax=${faultLimits.latencyMsMax} or null, got ${latencyMs}`)
  if (loss !== null && !(Number.isFinite(loss) && loss >= 0 && loss <= 1)) throw new RangeError(`loss must be a probability from 0 to 1 or null, got ${loss}`)
  if (typeof pause !== 'boolean') throw new RangeError(`pause must be true or false, got ${String(pause)}`)
}
