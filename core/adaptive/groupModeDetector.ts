/**
 * The mode of a group (a Raft home group, the PBFT group) as this node sees
 * it, derived from the reported modes of its links to the group's members.
 *
 * A commit waits for a quorum, and the fastest quorum is as slow as the worst
 * link it needs: so the group's mode is the mode of its k-th best link, k
 * being the links a quorum needs (`quorumLinks`). A group is datacenter when
 * at least k links are datacenter, internet when fewer than k links are
 * better than internet, hybrid otherwise. Link modes already have hysteresis,
 * so the group's changes need none of their own: it moves only when a link
 * does, when its members change, or by its own manual override.
 */
import { assert, assertFailed } from '../lib/assert.ts'
import type { TimedMeasurement } from './measurement.ts'
import { modeRank, type Mode } from './mode.ts'
import { modeLimits } from './modeConfig.ts'
import type { GroupModeChanged, LinkModeView, ModeChangeReason } from './modeEvents.ts'

/**
 * Links a quorum of the group needs. When this node is a member it counts
 * itself: with L links the group has L+1 members and a majority is this node
 * and ⌊(L+1)/2⌋ links (2 of 4 for 5 members). When it is not, a majority of
 * the L members it links to: ⌊L/2⌋+1. For odd L and a non-member this is the
 * plain rule "datacenter when a majority of links are, internet when a
 * majority are".
 */
export function quorumLinks(linkCount: number, selfIsMember: boolean): number {
  if (!(Number.isInteger(linkCount) && linkCount >= 1)) assertFailed(`a group has at least one link, got ${linkCount}`)
  return selfIsMember ? Math.floor((linkCount + 1) / 2) : Math.floor(linkCount / 2) + 1
}

/** The mode of the `quorumLinks`-th best of `linkModes`. */
export function groupModeOf(linkModes: readonly Mode[], selfIsMember: boolean): Mode {
  const needed = quorumLinks(linkModes.length, selfIsMember)
  const best = [...linkModes].sort((a, b) => modeRank(a) - modeRank(b))
  return best[needed - 1]!
}

export interface GroupMembers {
  /** Member links with their current reported modes, 1 to groupLinksMax, distinct ids. */
  readonly links: readonly LinkModeView[]
  /** Whether this node is itself a member of the group (it then counts toward every quorum). */
  readonly selfIsMember: boolean
}

export interface GroupModeSnapshot {
  readonly id: string
  readonly mode: Mode
  readonly detectedMode: Mode
  readonly override: Mode | null
  readonly selfIsMember: boolean
  readonly quorumLinks: number
  readonly links: readonly LinkModeView[]
}

export class GroupModeDetector {
  readonly id: string
  private links: LinkModeView[]
  private selfIsMember: boolean
  private detected: Mode
  private override: Mode | null = null

  /** Starts in the mode its links give it, without an event: there is no earlier mode to change from. */
  constructor(id: string, members: GroupMembers) {
    checkMembers(id, members)
    this.id = id
    this.links = members.links.map(({ id, mode }) => ({ id, mode }))
    this.selfIsMember = members.selfIsMember
    this.detected = this.derive()
  }

  get mode(): Mode {
    return this.override ?? this.detected
  }

  get detectedMode(): Mode {
    return this.detected
  }

  has(linkId: string): boolean {
    return this.links.some((link) => link.id === linkId)
  }

  linkIds(): readonly string[] {
    return this.links.map((link) => link.id)
  }

  /** A member link's reported mode is now `mode`, because of `measurements`; returns the group's change, if any. */
  linkChanged(linkId: string, mode: Mode, measurements: readonly TimedMeasurement[], nowMs: number): GroupModeChanged | null {
    const index = this.links.findIndex((link) => link.id === linkId)
    assert(index >= 0, 'linkChanged for a link outside the group')
    const from = this.mode
    this.links[index] = { id: linkId, mode }
    this.detected = this.derive()
    return this.changed(from, 'detected', measurements, nowMs)
  }

  /** The group's members are now `members`; `measurements` are the latest of each. */
  setMembers(members: GroupMembers, measurements: readonly TimedMeasurement[], nowMs: number): GroupModeChanged | null {
    checkMembers(this.id, members)
    const from = this.mode
    this.links = members.links.map(({ id, mode }) => ({ id, mode }))
    this.selfIsMember = members.selfIsMember
    this.detected = this.derive()
    return this.changed(from, 'linksChanged', measurements, nowMs)
  }

  /** Sets (a mode) or clears (null) the manual override; `measurements` are the latest of each link. */
  setOverride(mode: Mode | null, measurements: readonly TimedMeasurement[], nowMs: number): GroupModeChanged | null {
    const from = this.mode
    this.override = mode
    return this.changed(from, mode === null ? 'overrideCleared' : 'override', measurements, nowMs)
  }

  snapshot(): GroupModeSnapshot {
    return {
      id: this.id,
      mode: this.mode,
      detectedMode: this.detected,
      override: this.override,
      selfIsMember: this.selfIsMember,
      quorumLinks: quorumLinks(this.links.length, this.selfIsMember),
      links: this.links.map(({ id, mode }) => ({ id, mode })),
    }
  }

  private derive(): Mode {
    return groupModeOf(
      this.links.map((link) => link.mode),
      this.selfIsMember,
    )
  }

  private changed(from: Mode, reason: ModeChangeReason, measurements: readonly TimedMeasurement[], atMs: number): GroupModeChanged | null {
    if (this.mode === from) return null
    return { kind: 'modeChanged', scope: 'group', id: this.id, from, to: this.mode, atMs, reason, measurements, links: this.links.map(({ id, mode }) => ({ id, mode })) }
  }
}

function checkMembers(groupId: string, members: GroupMembers): void {
  const count = members.links.length
  if (count < 1 || count > modeLimits.groupLinksMax) assertFailed(`group ${groupId} needs 1 to ${modeLimits.groupLinksMax} links, got ${count}`)
  if (new Set(members.links.map((link) => link.id)).size !== count) assertFailed(`group ${groupId} has a link twice`)
}
