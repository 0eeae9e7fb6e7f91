/**
 * One peer socket (`ws` WebSocket), dialed or accepted: it runs the hello
 * (hello.ts), then turns batch messages into frames, pings the peer, and
 * refuses anything out of order or malformed by closing with the refusal's
 * code and a reason that names the problem. Which links to keep, and what to
 * send on them, is PeerLinks' business.
 */
import type WebSocket from 'ws'
import type { RawData } from 'ws'
import type { NodeId } from '../../core/index.ts'
import { Hello } from './hello.ts'
import type { PeerLinkLimits } from './limits.ts'
import { closeReasonText, linkCloseCodes, refusalCloseCodes, refusalOfCloseCode, type PeerRefusalReason } from './refusals.ts'
import { kindOf, readBatch, wireKinds, WireError } from './wire.ts'

export type LinkDirection = 'out' | 'in'

export interface LinkEvents {
  /** The other side's proof checked out: the socket speaks for `link.peer`. */
  authenticated(link: Link): void
  frames(link: Link, frames: Uint8Array[], bytes: number): void
  /** This side refused the socket (it is closing). */
  refused(link: Link, reason: PeerRefusalReason, message: string): void
  /** The socket is closed (by either side, for any reason); `why` says what happened, for lastError. */
  closed(link: Link, why: string): void
}

export class Link {
  readonly direction: LinkDirection
  /** The member this link speaks for: the dialed member at once for a dialer, after the hello for an acceptor. */
  peer: NodeId | null
  /** The peer's session, once authenticated. */
  peerSession: Uint8Array | null = null
  readonly hello: Hello
  private readonly socket: WebSocket
  private readonly events: LinkEvents
  private readonly limits: PeerLinkLimits
  private readonly helloTimer: ReturnType<typeof setTimeout>
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private lastHeardMs = performance.now()
  private closing = false
  private closedAlready = false
  /** Why the socket closed when that is known before the close event (our refusal, a socket error). */
  private closeNote: string | null = null
  private readonly closeWaiters: (() => void)[] = []

  constructor(options: { socket: WebSocket; direction: LinkDirection; expectedPeer: NodeId | null; hello: Hello; events: LinkEvents; limits: PeerLinkLimits }) {
    this.socket = options.socket
    this.direction = options.direction
    this.peer = options.expectedPeer
    this.hello = options.hello
    this.events = options.events
    this.limits = options.limits
    this.socket.binaryType = 'nodebuffer'
    this.helloTimer = setTimeout(() => this.refuse('helloTimeout', `no hello within helloTimeoutMs=${this.limits.helloTimeoutMs}`), this.limits.helloTimeoutMs)
    this.socket.on('message', (data, isBinary) => this.onMessage(data, isBinary))
    this.socket.on('pong', () => (this.lastHeardMs = performance.now()))
    this.socket.on('error', (error: Error & { code?: string }) => this.onError(error))
    this.socket.on('close', (code, reason) => this.onClose(code, reason.toString()))
    if (this.socket.readyState === this.socket.OPEN) this.start()
    else this.socket.once('open', () => this.start())
  }

  get authenticated(): boolean {
    return this.hello.authenticated
  }

  get open(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN
  }

  /** Bytes given to the socket and not yet written to the kernel. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount
  }

  /** Sends one batch message; `written` runs once the socket took it (or failed). */
  sendBatch(batch: Uint8Array, written: () => void): void {
    this.socket.send(batch, { binary: true }, written)
  }

  /** Closes the socket with `code` (a duplicate, shutdown, ...). */
  close(code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    this.closeNote ??= reason
    this.stopTimers()
    if (this.socket.readyState === this.socket.CONNECTING) this.socket.terminate()
    else this.socket.close(code, closeReasonText(reason))
  }

  /** Runs `callback` once the socket is closed (at once if it is). */
  onceClosed(callback: () => void): void {
    if (this.closedAlready) callback()
    else this.closeWaiters.push(callback)
  }

  /** Cuts the socket without a closing handshake. */
  terminate(): void {
    this.closing = true
    this.stopTimers()
    this.socket.terminate()
  }

  private start(): void {
    if (this.closing) return
    this.send(this.hello.challenge())
    this.pingTimer = setInterval(() => this.ping(), this.limits.pingIntervalMs)
  }

  private ping(): void {
    if (performance.now() - this.lastHeardMs > this.limits.pingTimeoutMs) {
      this.closeNote = `nothing heard for pingTimeoutMs=${this.limits.pingTimeoutMs}`
      this.close(linkCloseCodes.silent, this.closeNote)
      this.socket.terminate()
      return
    }
    if (this.socket.readyState === this.socket.OPEN) this.socket.ping()
  }

  private send(bytes: Uint8Array): void {
    this.socket.send(bytes, { binary: true })
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return
    this.lastHeardMs = performance.now()
    if (!isBinary || !Buffer.isBuffer(data)) return this.refuse('malformed', 'a text message on a peer link')
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    switch (kindOf(bytes)) {
      case wireKinds.challenge:
        return this.onHelloStep(this.hello.onChallenge(bytes))
      case wireKinds.proof:
        return this.onHelloStep(this.hello.onProof(bytes))
      case wireKinds.batch:
        return this.onBatch(bytes)
      default:
        return this.refuse('malformed', `a message of unknown kind ${kindOf(bytes)}`)
    }
  }

  private onHelloStep(step: ReturnType<Hello['onChallenge']>): void {
    switch (step.kind) {
      case 'refused':
        return this.refuse(step.reason, step.message)
      case 'proof':
        return this.send(step.proof)
      case 'authenticated':
        clearTimeout(this.helloTimer)
        this.peer = step.peer
        this.peerSession = step.session
        return this.events.authenticated(this)
    }
  }

  private onBatch(bytes: Uint8Array): void {
    if (!this.hello.authenticated) return this.refuse('unauthenticated', 'frames before the hello was done')
    let frames: Uint8Array[]
    try {
      frames = readBatch(bytes, this.limits.batchFramesMax)
    } catch (error) {
      if (error instanceof WireError) return this.refuse('malformed', error.message)
      throw error
    }
    this.events.frames(this, frames, bytes.length)
  }

  private refuse(reason: PeerRefusalReason, message: string): void {
    if (this.closing) return
    this.closeNote = `refused ${this.peer ?? 'a peer'}: ${reason}: ${message}`
    this.events.refused(this, reason, message)
    this.close(refusalCloseCodes[reason], `${reason}: ${message}`)
  }

  private onError(error: Error & { code?: string }): void {
    // ws reports a peer's WebSocket protocol errors (bad opcodes, oversized messages) as WS_ERR_* and closes the socket.
    if (error.code?.startsWith('WS_ERR_') === true && !this.closing) {
      this.closeNote = `refused ${this.peer ?? 'a peer'}: malformed: ${error.message}`
      this.events.refused(this, 'malformed', error.message)
      this.closing = true
      this.stopTimers()
      return
    }
    this.closeNote ??= error.message
  }

  private onClose(code: number, reason: string): void {
    if (this.closedAlready) return
    this.closedAlready = true
    this.closing = true
    this.stopTimers()
    const refused = refusalOfCloseCode(code)
    const why = this.closeNote ?? (refused !== null ? `refused by ${this.peer ?? 'the peer'}: ${reason}` : `closed by ${this.peer ?? 'the peer'} (${code}${reason === '' ? '' : `: ${reason}`})`)
    this.events.closed(this, why)
    for (const waiter of this.closeWaiters.splice(0)) waiter()
  }

  private stopTimers(): void {
    clearTimeout(this.helloTimer)
    if (this.pingTimer !== null) clearInterval(this.pingTimer)
    this.pingTimer = null
  }
}
