/**
 * pbft: the PBFT engine alone, in one process: n = 4 replicas (f = 1) whose
 * messages go straight from one engine's Ready to the others' step (no
 * network, no codec), a KV store as each replica's state machine, and closed
 * loop clients spread evenly over the four replicas as their gateways (each
 * client has one request in flight, as PBFT's clients do, and sends its next
 * one once its gateway answered it with f+1 matching replies). Each replica is
 * driven by the host contract of core/ready.ts and ticks every 10 ms of wall
 * time, as the node host does. All four replicas share one thread: the figures
 * are the whole cluster's cost on one core.
 *
 * Cases, each with real Ed25519 signatures and SHA-256 digests
 * (node/ed25519Signer.ts) and with the simulator's cheap deterministic signer
 * (sim/signer.ts):
 * - batched-256: bundles and batches of up to 256 requests, 4 batches in
 *   flight (pipelined), enough clients to keep the pipeline full;
 * - unbatched: batchRequestsMax = bundleRequestsMax = 1 (one request per
 *   decision), still 4 in flight.
 *
 * Figures: opsPerSecond is requests answered at their gateway (f+1 replies) per
 * second; p50Ms and p99Ms the time from a request's proposal to its answer;
 * messagesPerDecision is (pre-prepare + prepare + commit messages sent by all
 * replicas) / decisions, messagesPerRequest the same over requests executed,
 * wireMessagesPerRequest every message sent (bundles, replies, checkpoints,
 * status too) over requests executed; gatewaysPerDecision how many gateways'
 * bundles a batch holds on average; cpuUsPerRequest the process's CPU time
 * (all threads) over the window per request answered, steadier than
 * requests/s when other processes share the machine.
 *
 * Targets (issue 6), beside the figures: 50,000 requests/s with real Ed25519
 * and batching (`target`, `ofTarget`); without batching exactly
 * (n−1) + (n−1)² + n(n−1) = 24 protocol messages per decision
 * (`messagesPerDecisionTarget`); with batches of 16 or more, fewer than 2
 * protocol messages per request (`messagesPerRequestTarget`, an upper bound).
 *
 * Each case warms up on a cluster of its own first, and ends by delivering
 * everything in flight and checking that every replica executed the same
 * batches (the same digest at every sequence number) into the same state, and
 * that every request was answered: a bench of a diverging cluster throws.
 */
import { KvStateMachine, writeKvPut } from '../core/kv.ts'
import { Rng } from '../core/lib/prng.ts'
import type { NodeId, Signer, StorageWrite } from '../core/ports.ts'
import { defaultPbftConfig, type PbftConfig } from '../core/pbft/config.ts'
import { PbftEngine, type PbftApplied, type PbftEvent, type PbftMetrics } from '../core/pbft/engine.ts'
import { digestKey, sameBytes, type PbftMessage } from '../core/pbft/messages.ts'
import { Ed25519Signer } from '../node/ed25519Signer.ts'
import { SimKeyring } from '../sim/signer.ts'
import { percentile, round, type Bench, type BenchResult } from './report.ts'
import { InFlight } from './inFlight.ts'
import { driveUntilIdle, type DriverPorts } from '../host/driver.ts'

const replicaCount = 4
const tickMs = 10
/** The headline: requests per second of one BFT cluster, in-process, n = 4, real Ed25519, with batching. */
const opsTarget = 50_000
/** Without batching: pre-prepare to n−1, prepare from n−1 backups to n−1, commit from n to n−1. */
const unbatchedMessagesPerDecisionTarget = replicaCount - 1 + (replicaCount - 1) ** 2 + replicaCount * (replicaCount - 1)
/** With batches of 16 or more: protocol messages per request stay below this. */
const batchedMessagesPerRequestTarget = 2
const batchRequests = 256
const inflightBatches = 4
/** A stalled cluster (nothing in flight, requests unanswered) for this long is a bug, not a slow machine. */
const stallMs = 10_000

type SignerKind = 'ed25519' | 'sim'

interface CaseSpec {
  readonly name: string
  readonly signer: SignerKind
  readonly batched: boolean
  readonly clients: number
  readonly config: Partial<PbftConfig>
}

function caseSpecs(): CaseSpec[] {
  const specs: CaseSpec[] = []
  for (const signer of ['ed25519', 'sim'] as const) {
    // Two clients per request slot of the pipeline: every batch is full, and the loop settles with each batch one
    // gateway's bundle (its clients answered together, they ask again together). Fewer clients mix gateways in a
    // batch, and each gateway in a batch costs a bundle signature checked by every replica and n−1 signed replies.
    specs.push({
      name: `${signer}-batched-${batchRequests}`,
      signer,
      batched: true,
      clients: 2 * inflightBatches * batchRequests,
      config: { batchRequestsMax: batchRequests, bundleRequestsMax: batchRequests, inflightBatchesMax: inflightBatches },
    })
    specs.push({ name: `${signer}-unbatched`, signer, batched: false, clients: 4 * inflightBatches, config: { batchRequestsMax: 1, bundleRequestsMax: 1, inflightBatchesMax: inflightBatches } })
  }
  return specs
}

export const pbftBench: Bench = {
  name: 'pbft',
  summary: 'PBFT requests per second and protocol messages per decision on four in-process replicas (Ed25519 and simulator signatures, batched and unbatched)',
  run: ({ quick, progress }) => {
    // Quick: long enough for the first batches of 2,048 requests to be answered with Ed25519 on a slow
    // machine, with room for other work on its cores (a 200 ms window answered nothing at a load of 5).
    const durationMs = quick ? 1000 : 2000
    const warmUpMs = quick ? 20 : 500
    const results: BenchResult[] = []
    for (const spec of caseSpecs()) {
      progress(`pbft: ${spec.name}`)
      results.push(runPbftCase(spec, warmUpMs, durationMs))
    }
    return results
  },
}

/** The cases' names, in the order the bench runs them. */
export const pbftCaseNames: readonly string[] = caseSpecs().map((spec) => spec.name)

/** Runs one case by name (for profiling one case alone: `node --cpu-prof -e` with this). */
export function runPbftCaseNamed(name: string, warmUpMs: number, durationMs: number): BenchResult {
  const spec = caseSpecs().find((candidate) => candidate.name === name)
  if (spec === undefined) throw new RangeError(`pbft bench has no case '${name}'; cases: ${pbftCaseNames.join(', ')}`)
  return runPbftCase(spec, warmUpMs, durationMs)
}

/** Warms up on a cluster of its own, then measures a fresh one and checks it. */
function runPbftCase(spec: CaseSpec, warmUpMs: number, durationMs: number): BenchResult {
  new Cluster(spec).run(warmUpMs)
  const cluster = new Cluster(spec)
  const window = cluster.run(durationMs)
  cluster.finish()
  return cluster.report(window)
}

function signers(kind: SignerKind): Signer[] {
  if (kind === 'ed25519') return Array.from({ length: replicaCount }, (_, index) => new Ed25519Signer(new Uint8Array(32).fill(index + 1)))
  const keyring = new SimKeyring(Rng.fromSeed(1).split('keys'))
  return Array.from({ length: replicaCount }, () => keyring.signer())
}

interface Client {
  readonly id: string
  readonly gateway: Replica
  readonly operation: Uint8Array
  timestamp: number
  sentAtMs: number
}

interface Replica {
  readonly engine: PbftEngine
  readonly machine: KvStateMachine
  readonly storage: MemoryStorage
  /** The digest of each batch executed, by sequence number from 1. */
  readonly executed: string[]
  /** This gateway's clients, by id. */
  readonly clients: Map<string, Client>
  readonly ports: DriverPorts<PbftMessage, PbftApplied, PbftEvent>
}

/**
 * A replica's storage in memory: writes land in a map, a sync counts (a real
 * host's fsync is not measured here; the bench counts what the engine asks
 * for: writes, bytes and syncs per decision).
 */
class MemoryStorage {
  readonly held = new Map<string, Uint8Array>()
  writes = 0
  writtenBytes = 0
  syncs = 0

  get(key: string): Uint8Array | undefined {
    return this.held.get(key)
  }

  keys(prefix: string): string[] {
    return [...this.held.keys()].filter((key) => key.startsWith(prefix)).sort()
  }

  write(change: StorageWrite): void {
    this.writes++
    if (change.value === null) this.held.delete(change.key)
    else {
      this.held.set(change.key, change.value)
      this.writtenBytes += change.value.length
    }
  }

  sync(): void {
    this.syncs++
  }
}

/** What one measured window saw at the gateways. */
interface Window {
  readonly elapsedMs: number
  readonly answered: number
  readonly latenciesMs: number[]
  /** CPU time of the whole process (user and system, every thread) over the window. */
  readonly cpuUs: number
}

class Cluster {
  private readonly spec: CaseSpec
  private readonly replicas: Replica[]
  private readonly byId = new Map<NodeId, Replica>()
  private readonly inFlight = new InFlight<PbftMessage>()
  /** Clients whose last request was answered: they propose their next one at the next turn of the loop. */
  private idle: Client[] = []
  private answered = 0
  private latenciesMs: number[] = []
  /** Over the batches the first replica executed: gateways whose bundles they held, summed (a batch of one gateway's bundle costs least). */
  private batchGateways = 0
  private proposing = true
  private lastTickMs = performance.now()
  private sinceClockCheck = 0

  constructor(spec: CaseSpec) {
    this.spec = spec
    const keys = signers(spec.signer)
    const ids = keys.map((_, index) => `r${index}`)
    const group = ids.map((id, index) => ({ id, publicKey: keys[index]!.publicKey }))
    this.replicas = ids.map((id, index) => {
      const machine = new KvStateMachine()
      const storage = new MemoryStorage()
      const replica: Replica = {
        engine: new PbftEngine({ id, replicas: group, signer: keys[index]!, stateMachine: machine, storage, config: spec.config }),
        machine,
        storage,
        executed: [],
        clients: new Map(),
        ports: {
          storage,
          transport: { send: (to, message) => this.inFlight.send(id, to, message) },
          handled: (ready) => this.handled(replica, ready.applied),
        },
      }
      return replica
    })
    for (const replica of this.replicas) this.byId.set(replica.engine.id, replica)
    for (let index = 0; index < spec.clients; index++) {
      const gateway = this.replicas[index % replicaCount]!
      const id = `c${index}`
      // The KV store holds at most kvLimits.keysMax keys: clients beyond share them (a put overwrites).
      const client: Client = { id, gateway, operation: writeKvPut({ requestId: id, key: `k${index % 1024}`, value: 'v' }), timestamp: 0, sentAtMs: 0 }
      gateway.clients.set(id, client)
      this.idle.push(client)
    }
  }

  /** The kernel's driver loop for one replica: send, apply, advance, until it has nothing more. */
  private drain(replica: Replica): void {
    driveUntilIdle(replica.engine, replica.ports)
  }

  /** Step 3 of a replica's Ready: executions and the answers to clients. */
  private handled(replica: Replica, appliedResults: readonly PbftApplied[]): void {
    const engine = replica.engine
    let nowMs = -1
    for (const applied of appliedResults) {
      if (applied.type === 'executed') {
        if (applied.seq !== replica.executed.length + 1) throw new Error(`pbft bench: ${engine.id} executed n${applied.seq} after n${replica.executed.length}`)
        replica.executed.push(digestKey(applied.digest))
        if (replica === this.replicas[0]) this.batchGateways += new Set(applied.requests.map((request) => request.gateway)).size
      } else if (applied.type === 'reply') {
        const client = replica.clients.get(applied.client)
        if (client === undefined || applied.timestamp !== client.timestamp) throw new Error(`pbft bench: ${engine.id} answered ${applied.client} at ${applied.timestamp}, not a request in flight`)
        if (this.proposing) {
          if (nowMs < 0) nowMs = performance.now()
          this.answered++
          this.latenciesMs.push(nowMs - client.sentAtMs)
        }
        this.idle.push(client)
      } else if (applied.type === 'refused') {
        // Each client's timestamps only grow: the engine has no reason to refuse one.
        throw new Error(`pbft bench: ${engine.id} refused ${applied.client} at ${applied.timestamp}: ${applied.code}`)
      }
    }
  }

  /** Every idle client proposes its next request at its gateway; then the gateways bundle them. */
  private proposeIdle(): void {
    const nowMs = performance.now()
    const idle = this.idle
    this.idle = []
    for (const client of idle) {
      client.timestamp++
      client.sentAtMs = nowMs
      const refusal = client.gateway.engine.propose({ type: 'request', client: client.id, timestamp: client.timestamp, operation: client.operation })
      if (refusal !== null) throw new Error(`pbft bench: ${client.gateway.engine.id} refused ${client.id}: ${refusal.code}: ${refusal.message}`)
    }
    for (const replica of this.replicas) this.drain(replica)
  }

  /** Delivers the oldest message in flight; false when none is. */
  private deliverOne(): boolean {
    return this.inFlight.deliverOne(this.deliver)
  }

  private readonly deliver = (from: NodeId, to: NodeId, message: PbftMessage): void => {
    const target = this.byId.get(to)
    if (target === undefined) return
    target.engine.step(from, message)
    this.drain(target)
  }

  private tickAll(): void {
    for (const replica of this.replicas) {
      replica.engine.tick()
      this.drain(replica)
    }
  }

  /** Ticks every replica when a tick's worth of wall time has passed since the last tick. */
  private tickIfDue(nowMs: number): void {
    if (nowMs - this.lastTickMs < tickMs) return
    this.lastTickMs = nowMs
    this.tickAll()
  }

  /** Clients propose and messages flow for `durationMs` of wall time; returns what the gateways answered meanwhile. */
  run(durationMs: number): Window {
    const startedMs = performance.now()
    const cpuStarted = process.cpuUsage()
    this.lastTickMs = startedMs
    let idleSinceMs = -1
    for (;;) {
      if (this.idle.length > 0) this.proposeIdle()
      const delivered = this.deliverOne()
      // Reading the clock is not free: look at it every 64 deliveries, or whenever nothing is in flight.
      if (delivered && ++this.sinceClockCheck < 64) continue
      this.sinceClockCheck = 0
      const nowMs = performance.now()
      if (nowMs - startedMs >= durationMs) break
      this.tickIfDue(nowMs)
      if (delivered || this.idle.length > 0) idleSinceMs = -1
      else if (idleSinceMs < 0) idleSinceMs = nowMs
      else if (nowMs - idleSinceMs > stallMs) throw new Error(`pbft bench: ${this.spec.name}: nothing in flight for ${stallMs} ms with requests unanswered`)
    }
    const elapsedMs = performance.now() - startedMs
    const cpu = process.cpuUsage(cpuStarted)
    this.proposing = false
    return { elapsedMs, answered: this.answered, latenciesMs: this.latenciesMs, cpuUs: cpu.user + cpu.system }
  }

  /** Lets everything in flight finish (no new requests), then checks the cluster stayed sound. */
  finish(): void {
    this.proposing = false
    const startedMs = performance.now()
    for (;;) {
      while (this.deliverOne());
      if (this.replicas.every((replica) => replica.engine.status().pendingRequests === 0)) break
      // Something waits for a tick (a retransmission): let time pass.
      const nowMs = performance.now()
      if (nowMs - startedMs > stallMs) throw new Error(`pbft bench: ${this.spec.name}: requests still unanswered ${stallMs} ms after the clients stopped`)
      this.tickIfDue(nowMs)
    }
    const problems: string[] = []
    const reference = this.replicas[0]!
    const state = reference.machine.snapshot()
    for (const replica of this.replicas) {
      const id = replica.engine.id
      if (replica.executed.length !== reference.executed.length) problems.push(`${id} executed ${replica.executed.length} batches, ${reference.engine.id} ${reference.executed.length}`)
      const seqs = Math.min(replica.executed.length, reference.executed.length)
      for (let index = 0; index < seqs; index++) {
        if (replica.executed[index] !== reference.executed[index]) {
          problems.push(`${id} executed another batch than ${reference.engine.id} at n${index + 1}`)
          break
        }
      }
      if (!sameBytes(replica.machine.snapshot(), state)) problems.push(`${id}'s KV state differs from ${reference.engine.id}'s`)
    }
    if (reference.executed.length === 0) problems.push('nothing was executed')
    if (problems.length > 0) throw new Error(`pbft bench: ${this.spec.name}: ${problems.join('; ')}`)
  }

  report(window: Window): BenchResult {
    const metrics = this.replicas.map((replica) => replica.engine.status().metrics)
    const total = (name: keyof PbftMetrics): number => metrics.reduce((sum, held) => sum + held[name], 0)
    const reference = metrics[0]!
    const decisions = reference.decisions
    const requests = reference.requestsExecuted
    const protocolMessages = total('prePreparesSent') + total('preparesSent') + total('commitsSent')
    const wireMessages = protocolMessages + total('checkpointsSent') + total('viewChangesSent') + total('newViewsSent') + total('repliesSent') + total('requestsSent') + total('statusSent') + total('relaysSent') + total('statesSent')
    const latencies = window.latenciesMs.sort((a, b) => a - b)
    const opsPerSecond = Math.round((window.answered / window.elapsedMs) * 1000)
    const { spec } = this
    const config = { ...defaultPbftConfig, ...spec.config }
    return {
      case: spec.name,
      opsPerSecond,
      p50Ms: round(percentile(latencies, 0.5)),
      p99Ms: round(percentile(latencies, 0.99)),
      unit: 'requests/s',
      // Less sensitive than requests/s to other processes on a shared machine: compare runs with it.
      cpuUsPerRequest: window.answered === 0 ? 0 : round(window.cpuUs / window.answered, 2),
      signer: spec.signer,
      n: replicaCount,
      clients: spec.clients,
      batchRequestsMax: config.batchRequestsMax,
      bundleRequestsMax: config.bundleRequestsMax,
      inflightBatchesMax: config.inflightBatchesMax,
      decisions,
      requests,
      requestsPerDecision: round(requests / decisions, 2),
      gatewaysPerDecision: round(this.batchGateways / decisions, 2),
      messagesPerDecision: round(protocolMessages / decisions, 3),
      messagesPerRequest: round(protocolMessages / requests, 4),
      wireMessagesPerRequest: round(wireMessages / requests, 4),
      signaturesPerRequest: round(total('signatures') / requests, 4),
      verificationsPerRequest: round(total('verifications') / requests, 4),
      relaysPerDecision: round(total('relaysSent') / decisions, 3),
      // What the replicas asked storage for (records of core/pbft/records.ts), summed over the group, per decision.
      storageWritesPerDecision: round(this.replicas.reduce((sum, replica) => sum + replica.storage.writes, 0) / decisions, 2),
      storageBytesPerDecision: round(this.replicas.reduce((sum, replica) => sum + replica.storage.writtenBytes, 0) / decisions, 0),
      syncsPerDecision: round(this.replicas.reduce((sum, replica) => sum + replica.storage.syncs, 0) / decisions, 2),
      viewChanges: total('viewChanges'),
      refused: total('refused'),
      evidenceSuspected: total('evidenceSuspected'),
      evidenceProven: total('evidenceProven'),
      ...(spec.batched ? { messagesPerRequestTarget: batchedMessagesPerRequestTarget } : { messagesPerDecisionTarget: unbatchedMessagesPerDecisionTarget }),
      ...(spec.batched && spec.signer === 'ed25519' ? { target: opsTarget, ofTarget: round(opsPerSecond / opsTarget, 3) } : {}),
    }
  }
}
