/**
 * Checks the hybrid write path (`auto`) and eventual registers.
 *
 * - No acknowledged write lost: at the end every replica holds the same
 *   register for each key, and it is at or after every acknowledged write of
 *   that key in LWW order (timestamp, then writer); when it is the very write,
 *   it holds that write's value.
 * - Applied once: one stamp never carries two values.
 * - A failure is the truth: a write answered failed (any code but `timeout`,
 *   whose outcome is unknown) never becomes visible: no replica's register
 *   ever holds its value (values are unique per write), neither while the
 *   run goes (`recordVisible`, from the replicas' changed keys) nor at the end.
 * - Mode switch: after a node decides a new home-group mode, every write it
 *   accepts takes that mode's path (the reply names the mode it saw), and
 *   `modeSwitchMs` measures how long writes accepted before the decision still
 *   waited on the old path.
 * - Path follows the mode (README: auto goes through Raft only when the home
 *   group is in datacenter mode): a write accepted while its node's home group
 *   was outside datacenter mode is answered from the CRDT path, never by a
 *   Raft commit. The mode is the node's latest decision before the write was
 *   issued, taken from the decisions the scenario recorded (which the mode
 *   checker holds to the latency plan) and 'hybrid' before the first one,
 *   the detector's initial mode — not the mode the reply says it saw.
 */
import { compareHlc, type Hlc } from '../../core/crdt/hlc.ts'
import type { LwwRegister } from '../../core/crdt/lwwRegister.ts'
import { defaultModeDetectorConfig } from '../../core/adaptive/modeConfig.ts'
import type { NodeId } from '../../core/ports.ts'
import type { ViolationLog } from '../violation.ts'

export interface AutoWrite {
  readonly node: NodeId
  readonly key: string
  /** The register value written (tagged, see core/replica/registerValue.ts). */
  readonly registerValue: string
  readonly issuedUs: number
  answeredUs: number | null
  ok: boolean
  /** The failure's code when answered failed (or refused at once), else null. */
  code: string | null
  path: string | null
  mode: string | null
  timestamp: Hlc | null
}

/** The home-group mode before a node's first decision: the detector's initial mode (core/adaptive/modeConfig.ts). */
const initialGroupMode = defaultModeDetectorConfig.initialMode

export interface ModeDecision {
  readonly node: NodeId
  readonly atUs: number
  readonly to: string
}

/** A register value seen at a replica: where and when first. */
interface Sighting {
  readonly node: NodeId
  readonly atUs: number
}

export class AutoWriteChecker {
  readonly writes: AutoWrite[] = []
  readonly decisions: ModeDecision[] = []
  /** Register values seen at any replica during the run, by key and value. */
  private readonly seen = new Map<string, Sighting>()

  /** A replica's register of `key` holds `registerValue` now. */
  recordVisible(node: NodeId, key: string, registerValue: string, atUs: number): void {
    const seenKey = sightingKey(key, registerValue)
    if (!this.seen.has(seenKey)) this.seen.set(seenKey, { node, atUs })
  }

  /** The home-group mode `node` had decided before `atUs`; null when a decision falls at `atUs` itself (the order is not known). */
  private modeBefore(node: NodeId, atUs: number): string | null {
    let mode: string = initialGroupMode
    for (const decision of this.decisions) {
      if (decision.node !== node) continue
      if (decision.atUs === atUs) return null
      if (decision.atUs < atUs) mode = decision.to
    }
    return mode
  }

  check(seed: number, endUs: number, registers: ReadonlyMap<NodeId, ReadonlyMap<string, LwwRegister | undefined>>, violations: ViolationLog): { lostWrites: number; modeSwitchMs: number[]; oldPathAfterDecision: number } {
    let lostWrites = 0
    const stampValue = new Map<string, string>()
    for (const write of this.writes) {
      if (!write.ok || write.timestamp === null) continue
      const stamp = `${write.node}@${write.timestamp.wallMs}.${write.timestamp.logical}`
      const seen = stampValue.get(stamp)
      if (seen !== undefined && seen !== write.registerValue) violations.add({ seed, invariant: 'appliedOnce', kind: 'safety', atMs: Math.floor(endUs / 1000), node: write.node, message: `stamp ${stamp} carries two values` })
      stampValue.set(stamp, write.registerValue)
    }
    const nodes = [...registers.keys()]
    const keys = new Set(this.writes.map((write) => write.key))
    for (const key of keys) {
      const held = nodes.map((node) => registers.get(node)!.get(key))
      const first = held[0]
      for (let index = 1; index < held.length; index++) {
        if (!sameRegister(first, held[index])) {
          violations.add({ seed, invariant: 'convergence', kind: 'liveness', atMs: Math.floor(endUs / 1000), node: nodes[index], message: `register ${key} differs between ${nodes[0]} and ${nodes[index]} after healing` })
          break
        }
      }
    }
    for (const write of this.writes) {
      if (!write.ok || write.timestamp === null) continue
      const final = registers.get(nodes[0]!)!.get(write.key)
      const order = final === undefined || !final.written ? -1 : compareHlc(final.timestamp, write.timestamp) || (final.replica < write.node ? -1 : final.replica > write.node ? 1 : 0)
      const lost = order < 0 || (order === 0 && final!.written && final!.value !== write.registerValue)
      if (lost) {
        lostWrites++
        violations.add({
          seed,
          invariant: 'noLostWrites',
          kind: 'safety',
          atMs: Math.floor((write.answeredUs ?? endUs) / 1000),
          node: write.node,
          message: `acknowledged ${write.path} write of ${write.key} at ${write.timestamp.wallMs}.${write.timestamp.logical} is not in the final register`,
        })
      }
    }
    // A write answered failed never becomes visible, during the run or at its end.
    for (const node of nodes) for (const [key, register] of registers.get(node)!) if (register?.written) this.recordVisible(node, key, register.value, endUs)
    for (const write of this.writes) {
      if (write.ok || write.answeredUs === null || write.code === 'timeout') continue
      const sighting = this.seen.get(sightingKey(write.key, write.registerValue))
      if (sighting === undefined) continue
      violations.add({
        seed,
        invariant: 'failedWriteInvisible',
        kind: 'safety',
        atMs: Math.floor(sighting.atUs / 1000),
        node: sighting.node,
        message: `auto write of ${write.key} by ${write.node} answered ${write.code} at ${write.answeredUs / 1000} ms is visible at ${sighting.node} (${sighting.atUs / 1000} ms)`,
      })
    }
    // The path follows the mode the node had decided when it accepted the write.
    for (const write of this.writes) {
      if (!write.ok || write.path === 'crdt') continue
      const mode = this.modeBefore(write.node, write.issuedUs)
      if (mode === null || mode === 'datacenter') continue
      violations.add({
        seed,
        invariant: 'autoPath',
        kind: 'safety',
        atMs: Math.floor(write.issuedUs / 1000),
        node: write.node,
        message: `auto write of ${write.key} accepted in ${mode} mode (decided before ${write.issuedUs / 1000} ms) was answered by the ${write.path} path, not the CRDT register`,
      })
    }
    // Mode switches: per decision, the old-path writes still in flight, and no old-path write accepted after it.
    const modeSwitchMs: number[] = []
    let oldPathAfterDecision = 0
    this.decisions.forEach((decision, index) => {
      // The node's next decision, in the order they were made: two at one instant (a mode that moved twice in one
      // step) leave the first governing nothing.
      const next = this.decisions.find((later, laterIndex) => laterIndex > index && later.node === decision.node && later.atUs >= decision.atUs)
      const untilUs = next?.atUs ?? endUs
      let lastOldUs = decision.atUs
      for (const write of this.writes) {
        if (write.node !== decision.node || write.answeredUs === null) continue
        if (write.issuedUs < decision.atUs && write.answeredUs >= decision.atUs) lastOldUs = Math.max(lastOldUs, write.answeredUs)
        if (write.issuedUs > decision.atUs && write.issuedUs < untilUs && write.ok && write.mode !== decision.to) {
          oldPathAfterDecision++
          violations.add({
            seed,
            invariant: 'modeSwitch',
            kind: 'safety',
            atMs: Math.floor(write.issuedUs / 1000),
            node: write.node,
            message: `write accepted ${(write.issuedUs - decision.atUs) / 1000} ms after the switch to ${decision.to} saw mode ${write.mode}`,
          })
        }
      }
      modeSwitchMs.push((lastOldUs - decision.atUs) / 1000)
    })
    return { lostWrites, modeSwitchMs, oldPathAfterDecision }
  }
}

function sightingKey(key: string, registerValue: string): string {
  return `${key}\u0000${registerValue}`
}

function sameRegister(a: LwwRegister | undefined, b: LwwRegister | undefined): boolean {
  if (a === undefined || !a.written) return b === undefined || !b.written
  if (b === undefined || !b.written) return false
  return compareHlc(a.timestamp, b.timestamp) === 0 && a.replica === b.replica && a.value === b.value
}
