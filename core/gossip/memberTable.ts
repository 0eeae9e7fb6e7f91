/**
 * Membership as compact tables. Ids map to dense indexes through a
 * `MemberDirectory` that the engines of one host may share (the simulator
 * shares one between all its nodes); each engine keeps only a state byte and
 * a 32-bit incarnation per index. Ten thousand nodes that each know ten
 * thousand members then take 0.5 GB of typed arrays, not 10^8 map entries.
 */
import type { Rng } from '../lib/prng.ts'
import type { NodeId } from '../ports.ts'
import { gossipLimits } from './config.ts'
import type { MemberState, MemberSummary } from './messages.ts'

export class MemberDirectory {
  readonly ids: NodeId[] = []
  private readonly indexes = new Map<NodeId, number>()
  private readonly interned = new WeakMap<readonly NodeId[], Int32Array>()

  get size(): number {
    return this.ids.length
  }

  indexOf(id: NodeId): number | undefined {
    return this.indexes.get(id)
  }

  /**
   * Indexes of every id in `ids` (-1 where the directory is full), computed once per list:
   * thousands of engines created from one member list share the result instead of each
   * looking up every id.
   */
  internAll(ids: readonly NodeId[]): Int32Array {
    const held = this.interned.get(ids)
    if (held !== undefined) return held
    const indexes = Int32Array.from(ids, (id) => this.intern(id) ?? -1)
    this.interned.set(ids, indexes)
    return indexes
  }

  /** The index of `id`, given it one if it has none; undefined when the directory is full. */
  intern(id: NodeId): number | undefined {
    const held = this.indexes.get(id)
    if (held !== undefined) return held
    if (this.ids.length >= gossipLimits.membersMax) return undefined
    this.indexes.set(id, this.ids.length)
    this.ids.push(id)
    return this.ids.length - 1
  }
}

/** State codes in the table; 0 is a member this engine has never heard of. */
const unknown = 0
const codes: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 }
const statesByCode: (MemberState | undefined)[] = [undefined, 'alive', 'suspect', 'dead', 'left']

export class MemberTable {
  readonly directory: MemberDirectory
  private states = new Uint8Array(64)
  private incarnations = new Uint32Array(64)
  private knownCount = 0
  /** Members alive or suspect (this node included). */
  liveCount = 0
  private readonly selfIndex: number

  constructor(directory: MemberDirectory, self: NodeId) {
    this.directory = directory
    this.selfIndex = directory.intern(self)!
  }

  /** Members this engine knows, in any state. */
  get size(): number {
    return this.knownCount
  }

  stateOf(id: NodeId): MemberState | undefined {
    return this.stateAt(this.directory.indexOf(id))
  }

  incarnationOf(id: NodeId): number {
    return this.incarnationAt(this.directory.indexOf(id))
  }

  /** By directory index (one id lookup serves both state and incarnation on hot paths). */
  stateAt(index: number | undefined): MemberState | undefined {
    return index === undefined || index >= this.states.length ? undefined : statesByCode[this.states[index]!]
  }

  incarnationAt(index: number | undefined): number {
    return index === undefined || index >= this.incarnations.length ? 0 : this.incarnations[index]!
  }

  /** Records a member's state; false when the directory is full and the member is new. */
  set(id: NodeId, incarnation: number, state: MemberState): boolean {
    const index = this.directory.intern(id)
    if (index === undefined) return false
    this.ensure(index)
    const before = this.states[index]!
    if (before === unknown) this.knownCount++
    const wasLive = before === codes.alive || before === codes.suspect
    const isLive = state === 'alive' || state === 'suspect'
    this.liveCount += (isLive ? 1 : 0) - (wasLive ? 1 : 0)
    this.states[index] = codes[state]
    this.incarnations[index] = incarnation
    return true
  }

  /** Forgets a member (it left the cluster configuration): it reads as never heard of. */
  forget(id: NodeId): void {
    const index = this.directory.indexOf(id)
    if (index === undefined || index === this.selfIndex || index >= this.states.length) return
    const before = this.states[index]!
    if (before === unknown) return
    this.knownCount--
    if (before === codes.alive || before === codes.suspect) this.liveCount--
    this.states[index] = unknown
    this.incarnations[index] = 0
  }

  /** Records every member of `ids` this table does not know yet as alive at `incarnation`; true when `ids` lists this node. */
  addAlive(ids: readonly NodeId[], incarnation: number): boolean {
    const indexes = this.directory.internAll(ids)
    let highest = -1
    let listsSelf = false
    for (const index of indexes) {
      highest = Math.max(highest, index)
      if (index === this.selfIndex) listsSelf = true
    }
    if (highest >= 0) this.ensure(highest)
    for (const index of indexes) {
      if (index < 0 || this.states[index] !== unknown) continue
      this.states[index] = codes.alive
      this.incarnations[index] = incarnation
      this.knownCount++
      this.liveCount++
    }
    return listsSelf
  }

  private ensure(index: number): void {
    if (index < this.states.length) return
    let capacity = this.states.length
    while (capacity <= index) capacity *= 2
    const states = new Uint8Array(capacity)
    states.set(this.states)
    const incarnations = new Uint32Array(capacity)
    incarnations.set(this.incarnations)
    this.states = states
    this.incarnations = incarnations
  }

  private isLiveOther(index: number, except: number): boolean {
    if (index === this.selfIndex || index === except || index >= this.states.length) return false
    const state = this.states[index]!
    return state === codes.alive || state === codes.suspect
  }

  /** Up to `count` distinct live members other than this node and `except`, by rejection sampling. */
  randomLive(rng: Rng, count: number, except: NodeId | null): NodeId[] {
    const size = this.directory.size
    const exceptIndex = except === null ? -1 : (this.directory.indexOf(except) ?? -1)
    const chosen = new Set<number>()
    for (let attempts = 0; chosen.size < count && attempts < count * 16 && size > 0; attempts++) {
      const index = rng.int(size)
      if (this.isLiveOther(index, exceptIndex)) chosen.add(index)
    }
    if (chosen.size < count) {
      // Sampling the shared directory misses when this engine knows few of its members (it is
      // joining, or most are down): draw from the full list of candidates instead.
      const candidates: number[] = []
      for (let index = 0; index < size; index++) if (this.isLiveOther(index, exceptIndex) && !chosen.has(index)) candidates.push(index)
      while (chosen.size < count && candidates.length > 0) chosen.add(candidates.splice(rng.int(candidates.length), 1)[0]!)
    }
    return [...chosen].map((index) => this.directory.ids[index]!)
  }

  /** Every known member, in directory order. */
  summaries(): MemberSummary[] {
    const out: MemberSummary[] = []
    const limit = Math.min(this.directory.size, this.states.length)
    for (let index = 0; index < limit; index++) {
      const state = statesByCode[this.states[index]!]
      if (state !== undefined) out.push({ id: this.directory.ids[index]!, incarnation: this.incarnations[index]!, state })
    }
    return out
  }
}

/**
 * SWIM's probe order: every member once per round, in an order that changes
 * each round. A random start and a stride coprime with the directory size
 * walk a permutation without storing it (a node of ten thousand keeps two
 * numbers, not a shuffled list).
 */
export class ProbeOrder {
  private start = 0
  private stride = 1
  private size = 0
  private step = 0

  /** The next index to probe; `accept` says whether a candidate may be probed now. */
  next(rng: Rng, directorySize: number, accept: (index: number) => boolean): number | undefined {
    for (let attempts = 0; attempts <= directorySize + 1; attempts++) {
      if (this.step >= this.size) {
        if (directorySize === 0) return undefined
        this.size = directorySize
        this.start = rng.int(directorySize)
        this.stride = coprimeStride(rng, directorySize)
        this.step = 0
      }
      const index = (this.start + this.step * this.stride) % this.size
      this.step++
      if (accept(index)) return index
    }
    return undefined
  }
}

function coprimeStride(rng: Rng, size: number): number {
  if (size <= 2) return 1
  for (;;) {
    const stride = 1 + rng.int(size - 1)
    if (gcd(stride, size) === 1) return stride
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
