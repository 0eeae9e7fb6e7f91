/**
 * Mode change events: every change of a link's or a group's reported mode,
 * with the measurements behind it, so a host, a log or the TUI can show why.
 */
import type { TimedMeasurement } from './measurement.ts'
import type { LossLevel, Mode } from './mode.ts'

/**
 * detected: the measurements moved the mode (for a group: its links' modes did, a link's override included);
 * override / overrideCleared: an operator set or cleared the mode by hand;
 * linksChanged: a group's members changed.
 */
export type ModeChangeReason = 'detected' | 'override' | 'overrideCleared' | 'linksChanged'

/** A link's id and reported mode, as a group event lists its members. */
export interface LinkModeView {
  readonly id: string
  readonly mode: Mode
}

interface ModeChangedFields {
  readonly kind: 'modeChanged'
  /** The link's peer id or the group's id. */
  readonly id: string
  readonly from: Mode
  readonly to: Mode
  readonly atMs: number
  /**
   * What caused the change: for `detected`, the consecutive measurements that
   * confirmed it, oldest first; otherwise the latest measurement of the link,
   * or of each member link, that the new mode stands on (empty before any).
   */
  readonly measurements: readonly TimedMeasurement[]
}

export interface LinkModeChanged extends ModeChangedFields {
  readonly scope: 'link'
  readonly reason: Exclude<ModeChangeReason, 'linksChanged'>
  /** The link's loss level when it changed (see `nextLossLevel`): whether loss stood in the way of a better mode. */
  readonly lossLevel: LossLevel
}

export interface GroupModeChanged extends ModeChangedFields {
  readonly scope: 'group'
  readonly reason: ModeChangeReason
  /** Every member link's reported mode once the change happened, in the group's order. */
  readonly links: readonly LinkModeView[]
}

export type ModeChangedEvent = LinkModeChanged | GroupModeChanged
