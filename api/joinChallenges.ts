/**
 * The join challenges a member has handed out: each is 32 random bytes, good
 * for one join within `challengeTtlMs`. At most `challengesMax` wait; a new
 * one past that evicts the oldest (a flood of challenge requests costs a
 * joiner a retry, never memory). Held in memory: a host that restarts (or a
 * Durable Object that hibernates) forgets them, and the joiner asks again.
 */
import { base64urlOf } from './wire.ts'

export const joinChallengeLimits = {
  /** A joiner signs and sends within a second or two; a minute covers a slow one. */
  challengeTtlMs: 60_000,
  /** Challenges waiting at once. */
  challengesMax: 256,
  challengeBytes: 32,
} as const

export type ChallengeCheck = 'ok' | 'unknown' | 'expired'

export class JoinChallenges {
  /** By base64url text, in the order handed out (Map keeps insertion order). */
  private readonly issued = new Map<string, number>()
  private readonly randomBytes: (count: number) => Uint8Array
  private readonly nowMs: () => number

  constructor(randomBytes: (count: number) => Uint8Array, nowMs: () => number) {
    this.randomBytes = randomBytes
    this.nowMs = nowMs
  }

  get size(): number {
    return this.issued.size
  }

  /** A new challenge (base64url). */
  issue(): string {
    const bytes = this.randomBytes(joinChallengeLimits.challengeBytes)
    if (bytes.length !== joinChallengeLimits.challengeBytes) throw new RangeError(`the host's randomBytes gave ${bytes.length} bytes, not ${joinChallengeLimits.challengeBytes}`)
    const text = base64urlOf(bytes)
    this.dropExpired()
    while (this.issued.size >= joinChallengeLimits.challengesMax) this.issued.delete(this.issued.keys().next().value!)
    this.issued.set(text, this.nowMs())
    return text
  }

  /** Takes `challenge` (a second use finds it gone): whether it was handed out here and is still fresh. */
  take(challenge: string): ChallengeCheck {
    const issuedMs = this.issued.get(challenge)
    if (issuedMs === undefined) return 'unknown'
    this.issued.delete(challenge)
    return this.nowMs() - issuedMs > joinChallengeLimits.challengeTtlMs ? 'expired' : 'ok'
  }

  private dropExpired(): void {
    const oldestKeptMs = this.nowMs() - joinChallengeLimits.challengeTtlMs
    for (const [text, issuedMs] of this.issued) {
      if (issuedMs >= oldestKeptMs) break
      this.issued.delete(text)
    }
  }
}
