/**
 * raft: the Raft engine alone, in one process: three nodes whose storage is a
 * Map and whose messages go straight from one engine's Ready to the other's
 * step (no disk, no network, no codec), and a counter as the state machine, so
 * the figures are the engine's own cost. Each node is driven by the host
 * contract of core/ready.ts; every node ticks every 10 ms of wall time, as the
 * node host does, so heartbeats and check-quorum run as they would. Cases:
 * - commits-one-proposer: one command in flight; the next is proposed once the
 *   leader has applied the last (closed loop): commits per second;
 * - entries-batched-N: N proposals reach the leader between two Readies, then
 *   everything is driven until all N are applied on the leader: entries per
 *   second (p50Ms and p99Ms are then per batch);
 * - commits-pipelined: up to 32 commands in flight, each proposal handed out in a
 *   Ready of its own (pipelining without batching): commits per second.
 * Each case warms up first on a cluster of its own, then runs several timed
 * rounds, each on a fresh cluster, and reports the median round with the
 * spread of all (report.ts measureRounds); every round ends by checking that
 * one leader kept its term and that every node applied the same commands.
 */
import { Rng } from '../core/lib/prng.ts'
import type { NodeId, StorageReader, StorageWrite } from '../core/ports.ts'
import { defaultRaftConfig } from '../core/raft/config.ts'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent } from '../core/raft/engine.ts'
import type { RaftMessage } from '../core/raft/messages.ts'
import type { StateMachine } from '../core/stateMachine.ts'
import { measureBatches, measureRounds, round, type Bench, type BenchResult, type RoundsPlan } from './report.ts'
import { InFlight } from './inFlight.ts'
import { driveUntilIdle, type DriverPorts } from '../host/driver.ts'

/** The engine's throughput targets, reported beside the figures as `target` and `ofTarget` (a bench never fails on a time). */
const commitsTarget = 100_000
const entriesTarget = 1_000_000
const tickMs = 10
const pipelineDepth = 32
/**
 * One window of 1.5 s after 0.3 s swung from 45k to 185k commits/s between
 * runs: the closed loop keeps speeding up for some 5 s (deoptimizations and
 * tier-ups settle) and a shared machine adds its own noise. So: 3 s of
 * warm-up, then the median of five windows.
 */
const fullPlan: RoundsPlan = { warmUpMs: 3000, durationMs: 1500, rounds: 5 }
const quickPlan: RoundsPlan = { warmUpMs: 10, durationMs: 50, rounds: 3 }

export const raftBench: Bench = {
  name: 'raft',
  summary: 'Raft commits and entries per second on three in-process nodes (no disk, no network)',
  run: ({ quick, progress }) => {
    const plan = quick ? quickPlan : fullPlan
    const results: BenchResult[] = []

    progress('raft: commits-one-proposer')
    results.push(
      runCase(plan, (cluster, ms) => {
        const measured = measureBatches(() => cluster.proposeAndCommit(), 100, ms)
        return { case: 'commits-one-proposer', ...measured, target: commitsTarget, unit: 'commits/s' }
      }),
    )

    for (const batch of [256, 1024]) {
      progress(`raft: entries-batched-${batch}`)
      results.push(
        runCase(plan, (cluster, ms) => {
          // One operation is a batch: its time is the batch's commit latency; entries/s is batches/s × batch.
          const measured = measureBatches(() => cluster.proposeBatchAndCommit(batch), 1, ms)
          return {
            case: `entries-batched-${batch}`,
            opsPerSecond: measured.opsPerSecond * batch,
            opsPerCpuSecond: measured.opsPerCpuSecond * batch,
            p50Ms: measured.p50Ms,
            p99Ms: measured.p99Ms,
            batch,
            target: entriesTarget,
            unit: 'entries/s',
          }
        }),
      )
    }

    progress('raft: commits-pipelined')
    results.push(
      runCase(plan, (cluster, ms) => {
        const measured = measureBatches(() => cluster.proposePipelined(pipelineDepth), 100, ms)
        return { case: 'commits-pipelined', ...measured, inFlight: pipelineDepth, target: commitsTarget, unit: 'commits/s' }
      }),
    )
    return results
  },
}

/** Runs `measure` in rounds (report.ts measureRounds), each on a fresh cluster checked to have stayed sound; the median against the target. */
function runCase(plan: RoundsPlan, measure: (cluster: Cluster, durationMs: number) => BenchResult): BenchResult {
  const result = measureRounds(plan, (durationMs) => {
    const cluster = new Cluster()
    const measured = measure(cluster, durationMs)
    cluster.check(measured.case)
    return measured
  })
  return { ...result, ...(typeof result.target === 'number' ? { ofTarget: round(result.opsPerSecond / result.target, 3) } : {}) }
}

/** Storage as a Map: writes land, nothing syncs (there is nothing to lose in-process). */
class MapStorage implements StorageReader {
  readonly values = new Map<string, Uint8Array>()

  get(key: string): Uint8Array | undefined {
    return this.values.get(key)
  }

  keys(prefix: string): string[] {
    return [...this.values.keys()].filter((key) => key.startsWith(prefix)).sort()
  }

  write(write: StorageWrite): void {
    if (write.value === null) this.values.delete(write.key)
    else this.values.set(write.key, write.value)
  }

  /** A Map has nothing to sync. */
  sync(): void {}
}

/** A state machine that does next to nothing: counts the commands it applies. */
class CounterStateMachine implements StateMachine {
  count = 0
  private static readonly reply = Uint8Array.of(1)

  apply(): Uint8Array {
    this.count++
    return CounterStateMachine.reply
  }

  query(): Uint8Array {
    return Uint8Array.of(this.count & 0xff)
  }

  snapshot(): Uint8Array {
    const data = new Uint8Array(8)
    new DataView(data.buffer).setFloat64(0, this.count)
    return data
  }

  restore(data: Uint8Array): void {
    this.count = data.length === 0 ? 0 : new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0)
  }
}

interface Node {
  readonly engine: RaftEngine
  readonly storage: MapStorage
  readonly counter: CounterStateMachine
  /** Commands this node's Readies handed out as applied. */
  applied: number
  readonly ports: DriverPorts<RaftMessage, RaftApplied, RaftEvent>
}

const ids = ['a', 'b', 'c']

class Cluster {
  readonly nodes: Node[]
  readonly leader: Node
  private readonly term: number
  private readonly inFlight = new InFlight<RaftMessage>()
  private readonly byId = new Map<NodeId, Node>()
  /** A small command, the same bytes every time (the counter does not look at them). */
  private readonly command: RaftCommand = { type: 'propose', data: new Uint8Array(16).fill(7) }
  private lastTickMs = performance.now()
  private sinceClockCheck = 0
  /** commits-pipelined: commands proposed so far (applied ones included). */
  private proposed = 0

  constructor() {
    const rng = Rng.fromSeed(1)
    this.nodes = ids.map((id) => {
      const storage = new MapStorage()
      const counter = new CounterStateMachine()
      const node: Node = {
        engine: new RaftEngine({ id, voters: ids, storage, rng: rng.split(id), stateMachine: counter, config: defaultRaftConfig }),
        storage,
        counter,
        applied: 0,
        ports: {
          storage,
          transport: { send: (to, message) => this.inFlight.send(id, to, message) },
          handled: (ready) => {
            for (const applied of ready.applied) if (applied.type === 'entry') node.applied++
          },
        },
      }
      return node
    })
    for (const node of this.nodes) this.byId.set(node.engine.id, node)
    for (const node of this.nodes) this.drain(node)
    // Elect: tick everyone, delivering as we go, until one node leads and has committed its first entry.
    let leader: Node | undefined
    for (let tick = 0; tick < 1000 && leader === undefined; tick++) {
      this.tickAll()
      this.deliverAll()
      leader = this.nodes.find((node) => {
        const status = node.engine.status()
        return status.role === 'leader' && node.engine.entry(status.commit)?.term === status.term
      })
    }
    if (leader === undefined) throw new Error('raft bench: no leader after 1000 ticks')
    this.leader = leader
    this.term = leader.engine.status().term
  }

  /** The kernel's driver loop for one node: persist, send, apply, advance, until it has nothing more. */
  private drain(node: Node): void {
    driveUntilIdle(node.engine, node.ports)
  }

  /** Delivers the oldest message in flight; false when none is. */
  private deliverOne(): boolean {
    return this.inFlight.deliverOne(this.deliver)
  }

  private readonly deliver = (from: NodeId, to: NodeId, message: RaftMessage): void => {
    const target = this.byId.get(to)
    if (target === undefined) return
    target.engine.step(from, message)
    this.drain(target)
  }

  private deliverAll(): void {
    while (this.deliverOne());
  }

  private tickAll(): void {
    for (const node of this.nodes) {
      node.engine.tick()
      this.drain(node)
    }
  }

  /** Ticks every node when a tick's worth of wall time has passed (looked at every 64 calls: reading the clock is not free). */
  private maybeTick(): void {
    if (++this.sinceClockCheck < 64) return
    this.sinceClockCheck = 0
    const now = performance.now()
    if (now - this.lastTickMs < tickMs) return
    this.lastTickMs = now
    this.tickAll()
  }

  private propose(): void {
    const refusal = this.leader.engine.propose(this.command)
    if (refusal !== null) throw new Error(`raft bench: the leader refused a proposal: ${refusal.code}: ${refusal.message}`)
  }

  /** Delivers messages until the leader has applied `target` commands; what is still in flight stays so. */
  private driveUntilApplied(target: number): void {
    while (this.leader.applied < target) {
      if (!this.deliverOne()) throw new Error(`raft bench: nothing in flight and the leader applied ${this.leader.applied} of ${target}`)
    }
  }

  /** Closed loop, one in flight: propose, drive until the leader applied it. */
  proposeAndCommit(): void {
    this.maybeTick()
    const target = this.leader.applied + 1
    this.propose()
    this.drain(this.leader)
    this.driveUntilApplied(target)
  }

  /** `batch` proposals before the leader's next Ready, then drive until all are applied on the leader. */
  proposeBatchAndCommit(batch: number): void {
    this.maybeTick()
    const target = this.leader.applied + batch
    for (let index = 0; index < batch; index++) this.propose()
    this.drain(this.leader)
    this.driveUntilApplied(target)
  }

  /** One proposal in a Ready of its own; messages are delivered only while `depth` commands are in flight. */
  proposePipelined(depth: number): void {
    this.maybeTick()
    if (this.proposed === 0) this.proposed = this.leader.applied
    this.propose()
    this.proposed++
    this.drain(this.leader)
    this.driveUntilApplied(this.proposed - depth + 1)
  }

  /** The bench measured Raft working, not failing: one leader, its term kept, every node applied the same. */
  check(name: string): void {
    this.deliverAll()
    // One more round of heartbeats carries the final commit index to everyone.
    this.tickAll()
    this.deliverAll()
    const problems: string[] = []
    const status = this.leader.engine.status()
    if (status.role !== 'leader' || status.term !== this.term) problems.push(`the leader changed (role ${status.role}, term ${status.term} from ${this.term})`)
    for (const node of this.nodes) {
      if (node.counter.count !== this.leader.counter.count) problems.push(`${node.engine.id} applied ${node.counter.count} commands, the leader ${this.leader.counter.count}`)
    }
    if (this.leader.applied === 0) problems.push('nothing was committed')
    if (problems.length > 0) throw new Error(`raft bench: ${name}: ${problems.join('; ')}`)
  }
}
