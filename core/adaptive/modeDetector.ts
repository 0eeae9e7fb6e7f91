/**
 * The mode detector of one node: a `LinkModeDetector` per peer link and a
 * `GroupModeDetector` per group of them, kept in step. Each input returns the
 * mode changes it caused, the link's first and then its groups' (in the order
 * the groups were added), so the host can act on them and the TUI show why.
 *
 * Sans-IO: measurements and the time come in as arguments. A peer may belong
 * to several groups; its link is measured once and every group sees it.
 */
import { isValidId } from '../lib/limits.ts'
import { err, ok, type Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'
import { GroupModeDetector, type GroupModeSnapshot } from './groupModeDetector.ts'
import { LinkModeDetector, type LinkModeSnapshot } from './linkModeDetector.ts'
import type { LinkMeasurement, TimedMeasurement } from './measurement.ts'
import { isMode, type Mode } from './mode.ts'
import { defaultModeDetectorConfig, modeLimits, validateModeDetectorConfig, type ModeDetectorConfig } from './modeConfig.ts'
import type { GroupModeChanged, LinkModeChanged, ModeChangedEvent } from './modeEvents.ts'

export interface ModeDetectorSnapshot {
  readonly links: readonly LinkModeSnapshot[]
  readonly groups: readonly GroupModeSnapshot[]
}

export interface GroupSpec {
  /** Peer ids of the links to the group's other members; each must have been added with `addLink`. */
  readonly links: readonly string[]
  /** Whether this node is a member itself (it then counts toward every quorum, see `quorumLinks`). */
  readonly selfIsMember: boolean
}

type Changes = Result<readonly ModeChangedEvent[], Refusal>

export class ModeDetector {
  private readonly config: ModeDetectorConfig
  private readonly links = new Map<string, LinkModeDetector>()
  private readonly groups = new Map<string, GroupModeDetector>()
  /** Latest time passed in: every input must come at or after it. */
  private lastAtMs = -Infinity

  constructor(config: ModeDetectorConfig = defaultModeDetectorConfig) {
    validateModeDetectorConfig(config)
    this.config = config
  }

  /** Starts tracking the link to `linkId` in the config's initial mode; adding a tracked link again does nothing. */
  addLink(linkId: string): Refusal | null {
    if (!isValidId(linkId)) return { code: 'invalidId', message: `invalid link id ${JSON.stringify(linkId)}` }
    if (this.links.has(linkId)) return null
    if (this.links.size >= modeLimits.linksMax) return { code: 'tooManyLinks', message: `linksMax=${modeLimits.linksMax}` }
    this.links.set(linkId, new LinkModeDetector(linkId, this.config))
    return null
  }

  /** Stops tracking a link; refused while a group still has it (change the group first). */
  removeLink(linkId: string): Refusal | null {
    if (!this.links.has(linkId)) return unknownLink(linkId)
    for (const group of this.groups.values()) {
      if (group.has(linkId)) return { code: 'linkInUse', message: `link ${linkId} is a member of group ${group.id}` }
    }
    this.links.delete(linkId)
    return null
  }

  /**
   * Creates a group or changes its members. A new group starts in the mode its
   * links give it, with no event; changed members may change its mode (reason
   * `linksChanged`).
   */
  setGroup(groupId: string, spec: GroupSpec, nowMs: number): Changes {
    const refusal = this.checkTime(nowMs) ?? this.checkGroupSpec(groupId, spec)
    if (refusal !== null) return err(refusal)
    this.lastAtMs = nowMs
    const members = { links: spec.links.map((id) => ({ id, mode: this.links.get(id)!.mode })), selfIsMember: spec.selfIsMember }
    const group = this.groups.get(groupId)
    if (group === undefined) {
      this.groups.set(groupId, new GroupModeDetector(groupId, members))
      return ok([])
    }
    const event = group.setMembers(members, this.latestOf(spec.links), nowMs)
    return ok(event === null ? [] : [event])
  }

  removeGroup(groupId: string): Refusal | null {
    if (!this.groups.delete(groupId)) return unknownGroup(groupId)
    return null
  }

  /** One measurement of the link to `linkId` at `nowMs`. */
  observe(linkId: string, measurement: LinkMeasurement, nowMs: number): Changes {
    const link = this.links.get(linkId)
    if (link === undefined) return err(unknownLink(linkId))
    const timeRefusal = this.checkTime(nowMs)
    if (timeRefusal !== null) return err(timeRefusal)
    const result = link.observe(measurement, nowMs)
    if (!result.ok) return result
    this.lastAtMs = nowMs
    return ok(result.value === null ? [] : this.withGroups(result.value))
  }

  /** Sets (a mode) or clears (null) the manual override of one link; its groups follow its reported mode. */
  setLinkOverride(linkId: string, mode: Mode | null, nowMs: number): Changes {
    const link = this.links.get(linkId)
    if (link === undefined) return err(unknownLink(linkId))
    const timeRefusal = this.checkTime(nowMs)
    if (timeRefusal !== null) return err(timeRefusal)
    const result = link.setOverride(mode, nowMs)
    if (!result.ok) return result
    this.lastAtMs = nowMs
    return ok(result.value === null ? [] : this.withGroups(result.value))
  }

  /** Sets (a mode) or clears (null) the manual override of one group; detection goes on underneath. */
  setGroupOverride(groupId: string, mode: Mode | null, nowMs: number): Changes {
    const group = this.groups.get(groupId)
    if (group === undefined) return err(unknownGroup(groupId))
    const refusal = this.checkTime(nowMs) ?? (mode === null || isMode(mode) ? null : { code: 'invalidMode', message: `a mode is datacenter, hybrid or internet, got ${String(mode)}` })
    if (refusal !== null) return err(refusal)
    this.lastAtMs = nowMs
    const event = group.setOverride(mode, this.latestOf(group.linkIds()), nowMs)
    return ok(event === null ? [] : [event])
  }

  linkMode(linkId: string): Mode | undefined {
    return this.links.get(linkId)?.mode
  }

  groupMode(groupId: string): Mode | undefined {
    return this.groups.get(groupId)?.mode
  }

  snapshot(): ModeDetectorSnapshot {
    return {
      links: [...this.links.values()].map((link) => link.snapshot()),
      groups: [...this.groups.values()].map((group) => group.snapshot()),
    }
  }

  /** The link's change, then the change it causes in each group that has the link. */
  private withGroups(change: LinkModeChanged): ModeChangedEvent[] {
    const events: ModeChangedEvent[] = [change]
    for (const group of this.groups.values()) {
      if (!group.has(change.id)) continue
      const event: GroupModeChanged | null = group.linkChanged(change.id, change.to, change.measurements, change.atMs)
      if (event !== null) events.push(event)
    }
    return events
  }

  private latestOf(linkIds: readonly string[]): TimedMeasurement[] {
    const latest: TimedMeasurement[] = []
    for (const id of linkIds) {
      const last = this.links.get(id)?.lastMeasurement
      if (last != null) latest.push(last)
    }
    return latest
  }

  private checkGroupSpec(groupId: string, spec: GroupSpec): Refusal | null {
    if (!isValidId(groupId)) return { code: 'invalidId', message: `invalid group id ${JSON.stringify(groupId)}` }
    if (!this.groups.has(groupId) && this.groups.size >= modeLimits.groupsMax) return { code: 'tooManyGroups', message: `groupsMax=${modeLimits.groupsMax}` }
    const count = spec.links.length
    if (count < 1 || count > modeLimits.groupLinksMax) return { code: 'groupLinks', message: `group ${groupId} needs 1 to groupLinksMax=${modeLimits.groupLinksMax} links, got ${count}` }
    if (new Set(spec.links).size !== count) return { code: 'groupLinks', message: `group ${groupId} lists a link twice` }
    for (const id of spec.links) if (!this.links.has(id)) return unknownLink(id)
    return null
  }

  private checkTime(nowMs: number): Refusal | null {
    if (!Number.isFinite(nowMs)) return { code: 'invalidTime', message: `nowMs must be finite, got ${nowMs}` }
    if (nowMs < this.lastAtMs) return { code: 'timeWentBack', message: `nowMs ${nowMs} is before the previous input's ${this.lastAtMs}` }
    return null
  }
}

function unknownLink(linkId: string): Refusal {
  return { code: 'unknownLink', message: `no link ${JSON.stringify(linkId)}; addLink first` }
}

function unknownGroup(groupId: string): Refusal {
  return { code: 'unknownGroup', message: `no group ${JSON.stringify(groupId)}` }
}
