/**
 * SWIM and Lifeguard settings, after hashicorp/memberlist: one default
 * derived into LAN and WAN flavours, every value with its reason. Times are
 * in milliseconds here and turned into ticks by `toTicks` for a host's tick.
 */
export interface GossipConfig {
  /** Time between two probes of one member: failure detection latency scales with it. */
  readonly probeIntervalMs: number
  /** How long a direct ping waits for its ack before indirect probes: about the 99th percentile RTT. */
  readonly probeTimeoutMs: number
  /** Members asked to probe on our behalf when a direct ping fails: 3 rules out our own link being the problem. */
  readonly indirectChecks: number
  /** Suspicion lasts suspicionMult · log10(N) probe intervals at least: time for the suspect to hear and refute. */
  readonly suspicionMult: number
  /** With no confirmations a suspicion lasts this many times the minimum (Lifeguard shrinks it as confirmations come). */
  readonly suspicionMaxTimeoutMult: number
  /** News is retransmitted retransmitMult · log10(N + 1) times: enough to reach everyone with high probability. */
  readonly retransmitMult: number
  /** Time between gossip rounds that push queued news to `gossipNodes` members. */
  readonly gossipIntervalMs: number
  readonly gossipNodes: number
  /** Members declared dead stay among gossip targets this long: one that is alive after all hears it and refutes (memberlist's GossipToTheDeadTime). */
  readonly gossipToTheDeadMs: number
  /** Time between full-state push-pull exchanges with one member: repairs whatever gossip missed. */
  readonly pushPullIntervalMs: number
  /** Time between two update digests sent to one member: a digest costs a few bytes whatever N, so unlike push-pull it does not stretch with the cluster. */
  readonly updateSyncIntervalMs: number
  /** Lifeguard's local health ceiling: our own timeouts stretch up to this factor when we are the slow one. */
  readonly awarenessMax: number
  /** Lifeguard on (local health, nacks, confirmations, telling the suspect); off is plain SWIM, for comparison. */
  readonly lifeguard: boolean
  /** News piggybacked on one message. */
  readonly piggybackMax: number
}

export const defaultGossipConfig: GossipConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  updateSyncIntervalMs: 5000,
  awarenessMax: 8,
  lifeguard: true,
  piggybackMax: 16,
}

/** A datacenter: short round trips, so short timeouts. */
export const lanGossipConfig: GossipConfig = defaultGossipConfig

/** Regions over the internet: longer round trips and more loss call for patience and more retransmits. */
export const wanGossipConfig: GossipConfig = {
  ...defaultGossipConfig,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  updateSyncIntervalMs: 10_000,
}

/** A duration in whole ticks (at least one). */
export function toTicks(durationMs: number, tickMs: number): number {
  return Math.max(1, Math.round(durationMs / tickMs))
}

export const gossipLimits = {
  /** Members one node tracks. */
  membersMax: 16_384,
  /** Members in one push-pull message. */
  pushPullMembersMax: 16_384,
  /** News waiting in the transmit queue; the oldest-sent goes first beyond it. */
  queueItemsMax: 4096,
  /** Messages waiting for the host; beyond it a message is dropped (probes, gossip and push-pull repeat). */
  outboxMessagesMax: 16_384,
} as const
