/**
 * A replica as the gateway of its own clients (PBFT's client role): it takes
 * their requests, signs them into bundles for the primary, resends a bundle to
 * every replica when no answer comes, and answers a client only once f+1
 * replicas (itself among them) sent the same result, so that at least one
 * correct replica vouches for it.
 *
 * Across a reconfiguration a reply is counted in the group of its epoch:
 * replies of the old group and of the new one are never added up, and each
 * needs f+1 of its own group (f of that epoch). When its replica moves to a
 * new epoch, the requests not answered yet are bundled again (signed for the
 * new epoch) and sent to the new group's primary; a replica that left the
 * group gives them up (`drain`).
 */
import * as string from 'lib0/string'
import type { NodeId } from '../ports.ts'
import type { Refusal } from '../ready.ts'
import { pbftLimits } from './config.ts'
import { digestKey, sameBytes, type ClientRequest, type RequestBody, type Signed } from './messages.ts'

interface PendingRequest {
  readonly request: ClientRequest
  /** The bundle that carries it, once signed. */
  bundleKey: string | null
  /** Replicas by the epoch and result they sent (as a string key). */
  readonly votes: Map<string, Set<NodeId>>
}

interface SentBundle {
  readonly signed: Signed<RequestBody>
  sentTick: number
  unanswered: number
}

export interface Answer {
  readonly client: string
  readonly timestamp: number
  readonly result: Uint8Array
}

/** A bundle's key: its signature (deterministic per signer and bytes, and unique to them). */
export function bundleKey(bundle: Signed<RequestBody>): string {
  return digestKey(bundle.signature)
}

export class Gateway {
  private readonly pending = new Map<string, PendingRequest>()
  private outbox: ClientRequest[] = []
  private readonly bundles = new Map<string, SentBundle>()

  get pendingCount(): number {
    return this.pending.size
  }

  get hasOutbox(): boolean {
    return this.outbox.length > 0
  }

  propose(request: ClientRequest): Refusal | null {
    // Measured as the wire carries it (UTF-8), and well-formed, so that every replica decodes the client the gateway signed.
    const clientBytes = string.encodeUtf8(request.client)
    if (request.client.length === 0 || clientBytes.length > pbftLimits.clientIdBytesMax || string.decodeUtf8(clientBytes) !== request.client)
      return { code: 'invalid', message: `client id must be 1 to ${pbftLimits.clientIdBytesMax} bytes of well-formed UTF-8` }
    if (request.operation.length > pbftLimits.operationBytesMax) return { code: 'tooLarge', message: `operation of ${request.operation.length} bytes, limit operationBytesMax=${pbftLimits.operationBytesMax}` }
    if (!Number.isSafeInteger(request.timestamp) || request.timestamp < 0) return { code: 'invalid', message: 'timestamp must be a non-negative integer' }
    if (this.pending.has(request.client)) return { code: 'busy', message: `client ${request.client} already has a request in flight (one at a time, as PBFT's clients)` }
    if (this.pending.size >= pbftLimits.pendingRequestsMax) return { code: 'queueFull', message: `${this.pending.size} requests wait for replies, limit pendingRequestsMax=${pbftLimits.pendingRequestsMax}` }
    this.pending.set(request.client, { request, bundleKey: null, votes: new Map() })
    this.outbox.push(request)
    return null
  }

  /** Takes up to `requestsMax` requests (and about `bytesMax` bytes, at least one request) waiting to be bundled. */
  takeOutbox(requestsMax: number, bytesMax: number): ClientRequest[] {
    let count = 0
    let bytes = 0
    while (count < this.outbox.length && count < requestsMax) {
      const request = this.outbox[count]!
      // Client id, timestamp and operation with their length prefixes: an upper bound of the encoded size.
      bytes += request.client.length + request.operation.length + 16
      if (count > 0 && bytes > bytesMax) break
      count++
    }
    if (count === this.outbox.length) {
      const taken = this.outbox
      this.outbox = []
      return taken
    }
    return this.outbox.splice(0, count)
  }

  /** Requests waiting for replies (to vote for results this replica learnt by state transfer). */
  pendingRequests(): IterableIterator<ClientRequest> {
    return [...this.pending.values()].map((pending) => pending.request).values()
  }

  /** Remembers a signed bundle of this gateway's requests until every one is answered. */
  sent(signed: Signed<RequestBody>, tick: number): void {
    const key = bundleKey(signed)
    for (const request of signed.body.requests) {
      const pending = this.pending.get(request.client)
      if (pending !== undefined && pending.request.timestamp === request.timestamp) pending.bundleKey = key
    }
    this.bundles.set(key, { signed, sentTick: tick, unanswered: signed.body.requests.length })
  }

  /**
   * A replica's result for one of this gateway's clients. Returns the answer
   * once `quorum` replicas sent the same result for the pending request.
   */
  vote(replica: NodeId, client: string, timestamp: number, result: Uint8Array, quorum: number, epoch: number): Answer | null {
    const pending = this.pending.get(client)
    if (pending === undefined || pending.request.timestamp !== timestamp) return null
    const key = `${epoch}/${digestKey(result)}`
    let voters = pending.votes.get(key)
    if (voters === undefined) pending.votes.set(key, (voters = new Set()))
    voters.add(replica)
    if (voters.size < quorum) return null
    this.settle(client, pending)
    return { client, timestamp, result }
  }

  /**
   * Gives up a pending request that execution skipped because its client had
   * executed a later one already (every correct replica skips it alike); true
   * when it was pending here.
   */
  abandon(client: string, timestamp: number): boolean {
    const pending = this.pending.get(client)
    if (pending === undefined || pending.request.timestamp !== timestamp) return false
    this.settle(client, pending)
    return true
  }

  private settle(client: string, pending: PendingRequest): void {
    this.pending.delete(client)
    if (pending.bundleKey === null) return
    const bundle = this.bundles.get(pending.bundleKey)
    if (bundle !== undefined && --bundle.unanswered === 0) this.bundles.delete(pending.bundleKey)
  }

  /** True when this gateway signed exactly this bundle (and it is still unanswered): no need to verify it. */
  signedHere(bundle: Signed<RequestBody>): boolean {
    const sent = this.bundles.get(bundleKey(bundle))
    return sent !== undefined && sameBytes(sent.signed.bytes, bundle.bytes)
  }

  /** The tick at which `due` next returns a bundle (Infinity: none unanswered); read-only. */
  nextDueTick(retransmitTicks: number): number {
    let earliest = Number.POSITIVE_INFINITY
    for (const bundle of this.bundles.values()) earliest = Math.min(earliest, bundle.sentTick + retransmitTicks)
    return earliest
  }

  /** Bundles unanswered for `retransmitTicks` (their clock restarts), to be sent to every replica. */
  due(tick: number, retransmitTicks: number): Signed<RequestBody>[] {
    const due: Signed<RequestBody>[] = []
    for (const bundle of this.bundles.values()) {
      if (tick - bundle.sentTick < retransmitTicks) continue
      bundle.sentTick = tick
      due.push(bundle.signed)
    }
    return due
  }

  /**
   * The group changed: the signed bundles are of the old epoch, so every
   * request still waiting goes back to the outbox, to be bundled again (its
   * votes so far stay: they are kept by epoch).
   */
  rebundle(): void {
    const waiting = [...this.pending.values()].filter((pending) => pending.bundleKey !== null)
    this.bundles.clear()
    for (const pending of waiting) pending.bundleKey = null
    this.outbox = [...waiting.map((pending) => pending.request), ...this.outbox]
  }

  /** This replica left the group: every request waiting is given up (returned, to be refused to its client). */
  drain(): ClientRequest[] {
    const requests = [...this.pending.values()].map((pending) => pending.request)
    this.pending.clear()
    this.bundles.clear()
    this.outbox = []
    return requests
  }

  /** Every unanswered bundle (sent again to a new primary). */
  unanswered(): Signed<RequestBody>[] {
    return [...this.bundles.values()].map((bundle) => bundle.signed)
  }
}
