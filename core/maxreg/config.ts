/** Configuration of the max-register demo engine; every value says why. */
export interface MaxRegConfig {
  /** Ticks between two gossip rounds: one tick keeps convergence fast in the demo. */
  readonly gossipTicks: number
  /** Peers pushed to per round: 2 spreads a value to N nodes in about log2(N) rounds. */
  readonly fanout: number
  /** Acknowledgements waiting for the host to take them; beyond it writes are refused. */
  readonly pendingAcksMax: number
  /** Messages waiting for the host; beyond it gossip is skipped (it repeats anyway). */
  readonly outboxMessagesMax: number
}

export const defaultMaxRegConfig: MaxRegConfig = {
  gossipTicks: 1,
  fanout: 2,
  pendingAcksMax: 1024,
  outboxMessagesMax: 4096,
}

/** Values are non-negative safe integers so that they survive JSON and varuint encoding. */
export const maxRegValueMax = Number.MAX_SAFE_INTEGER
