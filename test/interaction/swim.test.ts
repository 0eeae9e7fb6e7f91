/**
 * SWIM as interaction scripts: test/interaction/swim/*.txt drive a few GossipEngine nodes by hand
 * and print what each step did, so that every script reads as a piece of the protocol's spec.
 *
 * The handler plays every host at once: each node's engine is hosted through the host kernel
 * (scriptHost.ts), which drives its Ready loop after any input (persist to a SimStorage, queue
 * the messages, print the events, advance). Messages wait in
 * one FIFO network queue until a directive delivers them; nothing moves by itself, except in `run`.
 * The only randomness is each engine's own Rng, seeded per node.
 *
 * Time: a tick is 100 ms, so a probe period is 10 ticks, a probe timeout 5 and a gossip round 2.
 * Push-pull and update digests are pushed out of the way (an hour apart): scripts show probes,
 * suspicion and news, and push-pull only where a script asks for it.
 *
 * Commands (node ids are "1", "2", ...):
 *
 *   add-nodes 3 [lifeguard=true] [seed=1]
 *                        creates nodes 1..3 that know each other from the start (alive at incarnation 1)
 *   probe 1              ticks node 1 until it starts a probe (sends a ping); prints the ticks it took
 *   tick 1 [n=1]         ticks one node n times
 *   tick-all [n=1]       ticks every live node n times, round by round in id order
 *   run n=20             n rounds of: deliver every queued message, then tick every live node;
 *                        prints only the nodes' events, each after the round it happened in
 *   stabilize            delivers messages, and those they cause, until none is left
 *   deliver-msgs [from=1] [to=2] [type=ping] [drop]
 *                        delivers (or drops) the messages queued now that match
 *   msgs                 lists the queued messages
 *   cut 1 3              messages between 1 and 3 (both ways) are dropped when delivered
 *   heal                 ends every cut
 *   crash 2 | restart 2  stops node 2 (messages to it are lost) | a new engine on its storage
 *   tell 3 from=1        delivers a gossip message to node 3 as if from node 1, carrying the news
 *                        given as input lines: "alive 2@3", "suspect 2@1 by=1", "dead 2@1 by=1";
 *                        alive news may carry metadata: "alive 2@3 region=eu address=http://n2 tags=dc=fra1,rack=4"
 *   set-meta 2 region=eu [address=http://n2] [tags=dc=fra1,rack=4]
 *                        node 2 changes its metadata (core/gossip/memberMeta.ts): its incarnation rises
 *   members [1 2]        each node's view: member=state@incarnation, with {region address tags} where gossip brought some
 *
 * Printed effects: "1 sees 3 suspect@1 (suspected by 1)", "3 refutes at incarnation 2 (accused by 1)".
 * A delivered message prints as "1->2 <describeGossipMessage>", followed by the receiver's effects,
 * indented.
 */
import { ScriptHost } from './scriptHost.ts'
import { join } from 'node:path'
import { describe } from 'vitest'
import { defaultGossipConfig, type GossipConfig } from '../../core/gossip/config.ts'
import { GossipEngine, type GossipApplied, type GossipCommand, type GossipEvent } from '../../core/gossip/engine.ts'
import type { MemberMeta } from '../../core/gossip/memberMeta.ts'
import { describeGossipMessage, type GossipMessage, type News } from '../../core/gossip/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import { SimStorage } from '../../sim/storage.ts'
import { lookup, namedIds, upNode, wordAt } from './scriptNodes.ts'
import { argInt, argList, argString, hasArg, runScripts, type Directive, type DirectiveHandler } from './datadriven.ts'

const tickMs = 100
const scriptConfig: GossipConfig = { ...defaultGossipConfig, pushPullIntervalMs: 3_600_000, updateSyncIntervalMs: 3_600_000 }
/** Ticks `probe` waits for a node to start a probe: a probe period, stretched at most awarenessMax times. */
const probeTicksMax = 10 * defaultGossipConfig.awarenessMax
/** Deliveries in one stabilize before it gives up: a livelock shows up as an error, not a hang. */
const stabilizeDeliveriesMax = 10_000

interface ScriptNode {
  readonly id: string
  readonly storage: SimStorage
  readonly config: GossipConfig
  readonly seed: number
  engine: GossipEngine
  /** The kernel hosting `engine`; all input goes through it. */
  host: ScriptHost<GossipCommand, GossipMessage, GossipApplied, GossipEvent>
  down: boolean
  incarnation: number
}

interface InFlight {
  readonly from: string
  readonly to: string
  readonly message: GossipMessage
  /** The receiver's incarnation (restarts) when this was sent: a crash loses what was on its way to it. */
  readonly toIncarnation: number
}

class SwimCluster {
  private readonly nodes = new Map<string, ScriptNode>()
  private queue: InFlight[] = []
  private readonly cuts = new Set<string>()

  handle(d: Directive): string {
    switch (d.command) {
      case 'add-nodes':
        return this.addNodes(d)
      case 'probe':
        return this.probe(upNode(this.nodes, d, 0))
      case 'tick':
        return this.tick(upNode(this.nodes, d, 0), argInt(d, 'n', 1))
      case 'tick-all':
        return this.tickAll(argInt(d, 'n', 1))
      case 'run':
        return this.run(argInt(d, 'n'))
      case 'stabilize':
        return this.stabilize()
      case 'deliver-msgs':
        return this.deliverMsgs(d)
      case 'msgs':
        return this.queue.map(describeInFlight).join('\n') || 'no messages'
      case 'cut': {
        const [a, b] = [wordAt(d, 0), wordAt(d, 1)]
        this.cuts.add(linkName(a, b))
        return `cut ${a} ${b}`
      }
      case 'heal':
        this.cuts.clear()
        return 'healed'
      case 'crash':
        return this.crash(upNode(this.nodes, d, 0))
      case 'restart':
        return this.restart(d)
      case 'tell':
        return this.tell(d)
      case 'set-meta':
        return this.setMeta(d)
      case 'members':
        return namedIds(this.nodes, d)
          .map((id) => this.members(lookup(this.nodes, id)))
          .join('\n')
      default:
        throw new Error(`unknown command ${d.command}`)
    }
  }

  // ---- arguments ----

  // ---- nodes ----

  private addNodes(d: Directive): string {
    const count = Number(wordAt(d, 0))
    if (!Number.isInteger(count) || count < 1) throw new Error(`add-nodes: "${wordAt(d, 0)}" is not a count`)
    const lifeguard = argString(d, 'lifeguard', 'true')
    if (lifeguard !== 'true' && lifeguard !== 'false') throw new Error(`add-nodes: lifeguard=${lifeguard} is not true or false`)
    const config = { ...scriptConfig, lifeguard: lifeguard === 'true' }
    const seed = argInt(d, 'seed', 1)
    const ids = Array.from({ length: count }, (_, index) => String(this.nodes.size + index + 1))
    const everyone = [...this.nodes.keys(), ...ids]
    for (const id of ids) {
      const storage = new SimStorage()
      const engine = this.createEngine(id, storage, config, seed, everyone)
      const node: ScriptNode = { id, storage, config, seed, engine, host: this.host(id, engine, storage), down: false, incarnation: 0 }
      this.nodes.set(id, node)
      this.drive(node)
    }
    return ids.map((id) => this.members(lookup(this.nodes, id))).join('\n')
  }

  private createEngine(id: string, storage: SimStorage, config: GossipConfig, seed: number, knownMembers?: readonly string[]): GossipEngine {
    return new GossipEngine({ id, seeds: ['1'], knownMembers, storage, rng: Rng.fromSeed(seed).split(id), tickMs, config })
  }

  private crash(node: ScriptNode): string {
    node.down = true
    node.host.stop('crashed')
    node.incarnation++
    return `${node.id} crashed`
  }

  private restart(d: Directive): string {
    const node = lookup(this.nodes, wordAt(d, 0))
    if (!node.down) throw new Error(`restart: node ${node.id} is up`)
    node.down = false
    // Back from a restart a node knows no one but its seed (node 1) and its stored incarnation.
    node.engine = this.createEngine(node.id, node.storage, node.config, node.seed + node.incarnation)
    node.host = this.host(node.id, node.engine, node.storage)
    const lines = this.drive(node)
    return [`${node.id} restarted at incarnation ${node.engine.status().incarnation}`, ...lines].join('\n')
  }

  /** Hosts `engine` through the kernel: its Readies persist to `storage`, queue their messages and print their events. */
  private host(id: string, engine: GossipEngine, storage: SimStorage): ScriptHost<GossipCommand, GossipMessage, GossipApplied, GossipEvent> {
    return new ScriptHost(engine, {
      storage,
      send: (to, message) => this.queue.push({ from: id, to, message, toIncarnation: this.nodes.get(to)?.incarnation ?? 0 }),
      describe: (ready) => ready.events.map((event) => describeEvent(id, event)),
    })
  }

  /** What the node's kernel printed since the last call (its Readies, driven after each input). */
  private drive(node: ScriptNode): string[] {
    return node.host.takePrinted()
  }

  private probe(node: ScriptNode): string {
    const queued = this.queue.length
    for (let ticks = 1; ticks <= probeTicksMax; ticks++) {
      node.host.tick()
      const lines = this.drive(node)
      const ping = this.queue.slice(queued).find((inFlight) => inFlight.from === node.id && inFlight.message.type === 'ping')
      if (ping !== undefined) return [`${node.id} probes ${ping.to} after ${ticks} tick(s)`, ...lines].join('\n')
    }
    throw new Error(`probe: node ${node.id} started no probe in ${probeTicksMax} ticks`)
  }

  private tick(node: ScriptNode, count: number): string {
    const lines: string[] = []
    for (let tick = 0; tick < count; tick++) {
      node.host.tick()
      lines.push(...this.drive(node))
    }
    return lines.join('\n') || 'ok'
  }

  private tickAll(count: number): string {
    const lines: string[] = []
    for (let tick = 0; tick < count; tick++) {
      for (const node of this.nodes.values()) {
        if (node.down) continue
        node.host.tick()
        lines.push(...this.drive(node))
      }
    }
    return lines.join('\n') || 'ok'
  }

  private run(rounds: number): string {
    const lines: string[] = []
    for (let round = 1; round <= rounds; round++) {
      const effects: string[] = []
      for (const inFlight of this.queue.splice(0)) {
        const target = this.nodes.get(inFlight.to)
        if (target === undefined || target.down || target.incarnation !== inFlight.toIncarnation || this.cuts.has(linkName(inFlight.from, inFlight.to))) continue
        target.host.step(inFlight.from, inFlight.message)
        effects.push(...this.drive(target))
      }
      for (const node of this.nodes.values()) {
        if (node.down) continue
        node.host.tick()
        effects.push(...this.drive(node))
      }
      for (const effect of effects) lines.push(`[${round}] ${effect}`)
    }
    return lines.join('\n') || 'ok'
  }

  // ---- messages ----

  private deliver(inFlight: InFlight): string[] {
    const target = this.nodes.get(inFlight.to)
    if (target === undefined || target.down) return [`${describeInFlight(inFlight)}  (dropped: ${inFlight.to} is down)`]
    if (target.incarnation !== inFlight.toIncarnation) return [`${describeInFlight(inFlight)}  (dropped: ${inFlight.to} crashed since)`]
    if (this.cuts.has(linkName(inFlight.from, inFlight.to))) return [`${describeInFlight(inFlight)}  (dropped: cut)`]
    const refusal = target.host.step(inFlight.from, inFlight.message)
    const effects = this.drive(target)
    if (refusal !== null) effects.unshift(`${target.id} refuses: ${refusal.code}`)
    return [describeInFlight(inFlight), ...effects.map((line) => `  ${line}`)]
  }

  private stabilize(): string {
    const lines: string[] = []
    for (let deliveries = 0; this.queue.length > 0; deliveries++) {
      if (deliveries >= stabilizeDeliveriesMax) throw new Error(`stabilize: still messages after ${stabilizeDeliveriesMax} deliveries`)
      lines.push(...this.deliver(this.queue.shift()!))
    }
    return lines.join('\n') || 'no messages'
  }

  private deliverMsgs(d: Directive): string {
    const from = argList(d, 'from', [])
    const to = argList(d, 'to', [])
    const types = argList(d, 'type', [])
    const matches = (m: InFlight) => (from.length === 0 || from.includes(m.from)) && (to.length === 0 || to.includes(m.to)) && (types.length === 0 || types.includes(m.message.type))
    const chosen = this.queue.filter(matches)
    this.queue = this.queue.filter((m) => !matches(m))
    if (hasArg(d, 'drop')) return chosen.map((m) => `${describeInFlight(m)}  (dropped)`).join('\n') || 'no messages'
    return chosen.flatMap((m) => this.deliver(m)).join('\n') || 'no messages'
  }

  private tell(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    const from = argString(d, 'from')
    const news = d.input
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => parseNews(line, d.pos))
    return this.deliver({ from, to: node.id, message: { type: 'gossip', news }, toIncarnation: node.incarnation }).join('\n')
  }

  private setMeta(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    const meta = { region: argString(d, 'region', ''), address: argString(d, 'address', ''), tags: parseTags(argString(d, 'tags', '')) }
    const refusal = node.host.input('setMeta', () => node.engine.setMeta(meta))
    const lines = this.drive(node)
    return [refusal === null ? `${node.id} announces its metadata at incarnation ${node.engine.status().incarnation}` : `refused: ${refusal.code}: ${refusal.message}`, ...lines].join('\n')
  }

  private members(node: ScriptNode): string {
    if (node.down) return `${node.id}: down`
    const members = [...node.engine.status().members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return `${node.id}: ${members.map((member) => `${member.id}=${member.state}@${member.incarnation}${member.meta === undefined ? '' : describeMeta(member.meta)}`).join(' ')}`
  }
}

function linkName(a: string, b: string): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

/** "dc=fra1,rack=4" as tags. */
function parseTags(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(',')
      .filter((part) => part !== '')
      .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]),
  )
}

/** Metadata as members prints it: {region address tag=value,...}, empty parts left out. */
function describeMeta(meta: MemberMeta): string {
  const tags = Object.entries(meta.tags).map(([name, value]) => `${name}=${value}`)
  return `{${[meta.region, meta.address, tags.join(',')].filter((part) => part.length > 0).join(' ')}}`
}

/** "alive 2@3" (optionally with "region=eu address=http://n2 tags=dc=fra1"), "suspect 2@1 by=1" or "dead 2@1 by=1". */
function parseNews(line: string, pos: string): News {
  const match = /^\s*(alive|suspect|dead)\s+(\S+)@(\d+)(?:\s+by=(\S+))?((?:\s+(?:region|address|tags)=\S*)*)\s*$/.exec(line)
  if (match === null) throw new Error(`${pos}: "${line}" is not news (alive 2@3, suspect 2@1 by=1, dead 2@1 by=1)`)
  const [, kind, member, incarnation, by, metaText] = match
  if (kind === 'alive' && metaText !== undefined && metaText.trim() !== '') {
    const fields = Object.fromEntries(
      metaText
        .trim()
        .split(/\s+/)
        .map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]),
    )
    return { kind, member: member!, incarnation: Number(incarnation), meta: { region: fields.region ?? '', address: fields.address ?? '', tags: parseTags(fields.tags ?? '') } }
  }
  if (kind === 'alive') return { kind, member: member!, incarnation: Number(incarnation) }
  if (by === undefined) throw new Error(`${pos}: ${kind} news needs by=NODE`)
  return { kind: kind as 'suspect' | 'dead', member: member!, incarnation: Number(incarnation), from: by }
}

function describeInFlight(m: InFlight): string {
  return `${m.from}->${m.to} ${describeGossipMessage(m.message)}`
}

function describeEvent(id: string, event: GossipEvent): string {
  switch (event.kind) {
    case 'member':
      return `${id} sees ${event.member} ${event.state}@${event.incarnation} (${event.reason} by ${event.by})`
    case 'refuted':
      return `${id} refutes at incarnation ${event.incarnation} (accused by ${event.suspectedBy})`
    case 'update':
      return `${id} holds ${event.key}@${event.version} (from ${event.from})`
  }
}

describe('SWIM interaction scripts', () => {
  runScripts(join(import.meta.dirname, 'swim'), (): DirectiveHandler => {
    const cluster = new SwimCluster()
    return (directive) => cluster.handle(directive)
  })
})
