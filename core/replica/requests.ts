/**
 * The request table: every client request a replica accepted and has not
 * answered yet, by what it waits for. One entry per request id, settled
 * exactly once: by its reply (answers.ts), or by the refusal `propose`
 * returns when an engine refused it at once.
 *
 * Engines answer in their own terms (a Raft entry's stamp, a read id, a PBFT
 * timestamp, a CRDT request id): `find` maps such a position to its request
 * through a lookup derived here from the entries, so callers never keep a
 * second index in step.
 */
import type { Mode } from '../adaptive/mode.ts'
import type { Hlc } from '../crdt/hlc.ts'
import { assert, assertFailed } from '../lib/assert.ts'
import type { Refusal } from '../ready.ts'
import type { AutoReason } from './commands.ts'
import { replicaLimits } from './config.ts'

interface Waiting {
  readonly requestId: number
  /** When it is answered `timeout`: requestTimeoutMs after it arrived. */
  readonly deadlineMs: number
}

/** A strong write or a policy change: its Raft entry (proposed here or forwarded to the leader) is found by its stamp. */
export interface StrongWrite extends Waiting {
  readonly kind: 'strongWrite'
  readonly stamp: Hlc
  /** A membership change: answered with the configuration version it made. */
  readonly configuration?: true
}

/** Where an auto write stands (autoPath.ts). */
export type AutoRoute =
  /**
   * Proposed to Raft (here or through the leader), which has until `deadlineMs` to commit it; null when
   * the CRDT path refused it after that, so only Raft's answer or the request's timeout answers it.
   */
  | { readonly via: 'raft'; readonly deadlineMs: number | null }
  /** Joined into the CRDT register for `reason`: the CRDT ack answers, though Raft may still commit it (the same write). */
  | { readonly via: 'crdt'; readonly reason: Exclude<AutoReason, 'datacenter'>; readonly crdtId: number }

/** An auto write (DESIGN §2): the stamp and register value it keeps on either path, and the home group's mode when it arrived. */
export interface AutoWrite extends Waiting {
  readonly kind: 'autoWrite'
  readonly key: string
  readonly stamp: Hlc
  readonly registerValue: string
  readonly mode: Mode
  readonly route: AutoRoute
}

/** A linearizable read served here, the leader: Raft's ReadIndex answers it. */
export interface StrongRead extends Waiting {
  readonly kind: 'strongRead'
  readonly readId: number
}

/** A linearizable read forwarded to the leader: only its answer can settle it. */
export interface ForwardedRead extends Waiting {
  readonly kind: 'forwardedRead'
}

/** A byzantine write: f+1 matching PBFT replies to its timestamp answer it, and its value is published then. */
export interface ByzantineWrite extends Waiting {
  readonly kind: 'byzantineWrite'
  readonly key: string
  readonly registerValue: string
  readonly pbftTimestamp: number
}

/** A byzantine read: PBFT's answer to its query. */
export interface ByzantineRead extends Waiting {
  readonly kind: 'byzantineRead'
  readonly readId: number
}

/** An eventual write or a CRDT operation: the CRDT engine's ack once it is durable. */
export interface CrdtWrite extends Waiting {
  readonly kind: 'crdtWrite'
  readonly crdtId: number
}

export type PendingRequest = StrongWrite | AutoWrite | StrongRead | ForwardedRead | ByzantineWrite | ByzantineRead | CrdtWrite

/** A position in an engine's own terms, where a request waits for that engine's answer. */
export type EnginePosition =
  | { readonly at: 'raftEntry'; readonly stamp: Hlc }
  | { readonly at: 'raftRead'; readonly readId: number }
  | { readonly at: 'pbftReply'; readonly timestamp: number }
  | { readonly at: 'pbftQuery'; readonly readId: number }
  | { readonly at: 'crdtAck'; readonly crdtId: number }

export class PendingRequests {
  private readonly byRequestId = new Map<number, PendingRequest>()
  /** Derived from the entries (positionsOf): the request id waiting at each engine position. */
  private readonly byPosition = new Map<string, number>()

  get size(): number {
    return this.byRequestId.size
  }

  has(requestId: number): boolean {
    return this.byRequestId.has(requestId)
  }

  get(requestId: number): PendingRequest | undefined {
    return this.byRequestId.get(requestId)
  }

  /** Why a new request with this id cannot wait here (its id waits already, or the table is full), or null. */
  admissionRefusal(requestId: number): Refusal | null {
    if (this.byRequestId.has(requestId)) return { code: 'duplicateRequest', message: `request ${requestId} is still waiting for its answer` }
    if (this.byRequestId.size >= replicaLimits.pendingRequestsMax) return { code: 'overloaded', message: `pendingRequestsMax=${replicaLimits.pendingRequestsMax} requests wait for answers` }
    return null
  }

  open(request: PendingRequest): void {
    if (this.byRequestId.has(request.requestId)) assertFailed(`request ${request.requestId} is already waiting`)
    assert(this.byRequestId.size < replicaLimits.pendingRequestsMax, 'the request table is full: admissionRefusal was not asked')
    this.byRequestId.set(request.requestId, request)
    this.index(request)
  }

  /** Replaces a waiting request's entry (an auto write changing path); it keeps its place in iteration order. */
  update(request: PendingRequest): void {
    const previous = this.byRequestId.get(request.requestId)
    if (previous === undefined) assertFailed(`request ${request.requestId} is not waiting`)
    this.unindex(previous)
    this.byRequestId.set(request.requestId, request)
    this.index(request)
  }

  /** Removes a waiting request: the caller answers it (or refuses it) now, once. */
  settle(requestId: number): PendingRequest {
    const request = this.byRequestId.get(requestId)
    if (request === undefined) assertFailed(`request ${requestId} was settled already`)
    this.unindex(request)
    this.byRequestId.delete(requestId)
    return request
  }

  /** The request waiting at an engine position, if any. */
  find(position: EnginePosition): PendingRequest | undefined {
    const requestId = this.byPosition.get(positionKey(position))
    return requestId === undefined ? undefined : this.byRequestId.get(requestId)
  }

  /** Every waiting request, oldest first; settling or updating the one being visited is fine. */
  [Symbol.iterator](): IterableIterator<PendingRequest> {
    return this.byRequestId.values()
  }

  private index(request: PendingRequest): void {
    for (const position of positionsOf(request)) {
      const key = positionKey(position)
      if (this.byPosition.has(key)) assertFailed(`two requests wait at ${key}`)
      this.byPosition.set(key, request.requestId)
    }
  }

  private unindex(request: PendingRequest): void {
    for (const position of positionsOf(request)) this.byPosition.delete(positionKey(position))
  }
}

/** Where each kind of request waits. An auto write on the CRDT path keeps its Raft entry: a late commit or refusal of it still finds it. */
function positionsOf(request: PendingRequest): EnginePosition[] {
  switch (request.kind) {
    case 'strongWrite':
      return [{ at: 'raftEntry', stamp: request.stamp }]
    case 'autoWrite': {
      const entry: EnginePosition = { at: 'raftEntry', stamp: request.stamp }
      return request.route.via === 'raft' ? [entry] : [entry, { at: 'crdtAck', crdtId: request.route.crdtId }]
    }
    case 'strongRead':
      return [{ at: 'raftRead', readId: request.readId }]
    case 'forwardedRead':
      return []
    case 'byzantineWrite':
      return [{ at: 'pbftReply', timestamp: request.pbftTimestamp }]
    case 'byzantineRead':
      return [{ at: 'pbftQuery', readId: request.readId }]
    case 'crdtWrite':
      return [{ at: 'crdtAck', crdtId: request.crdtId }]
  }
}

function positionKey(position: EnginePosition): string {
  switch (position.at) {
    case 'raftEntry':
      return `raftEntry ${position.stamp.wallMs}.${position.stamp.logical}`
    case 'raftRead':
    case 'pbftQuery':
      return `${position.at} ${position.readId}`
    case 'pbftReply':
      return `pbftReply ${position.timestamp}`
    case 'crdtAck':
      return `crdtAck ${position.crdtId}`
  }
}
