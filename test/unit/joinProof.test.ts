import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { joinChallengeLimits, JoinChallenges } from '../../api/joinChallenges.ts'
import { joinTranscript, type JoinClaim } from '../../api/joinProof.ts'
import { base64urlOf, bytesOfBase64url } from '../../api/wire.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { secretMac, secretProofProblem } from '../../node/peer/secretProof.ts'

const claim: JoinClaim = { clusterId: 'c', challenge: new Uint8Array(32).fill(1), id: 'n4', region: 'eu', url: 'http://127.0.0.1:7704', publicKey: new Uint8Array(32).fill(2), tags: { dc: 'fra1', rack: '4' } }

describe('join proof', () => {
  it('binds every field of the claim, and the tags in name order', () => {
    const base = Buffer.from(joinTranscript(claim)).toString('hex')
    const variants = [
      { ...claim, clusterId: 'd' },
      { ...claim, challenge: new Uint8Array(32).fill(3) },
      { ...claim, id: 'n5' },
      { ...claim, region: 'us' },
      { ...claim, url: 'http://127.0.0.1:7705' },
      { ...claim, publicKey: new Uint8Array(32).fill(4) },
      { ...claim, tags: { dc: 'fra2', rack: '4' } },
      { ...claim, tags: { dc: 'fra1' } },
      // Field boundaries are length-prefixed: moving a character between two fields changes the bytes.
      { ...claim, id: 'n4e', region: 'u' },
    ]
    const encodings = variants.map((variant) => Buffer.from(joinTranscript(variant)).toString('hex'))
    expect(new Set([base, ...encodings]).size).toBe(variants.length + 1)
    expect(Buffer.from(joinTranscript({ ...claim, tags: { rack: '4', dc: 'fra1' } })).toString('hex')).toBe(base)
    expect(Buffer.from(joinTranscript(claim)).subarray(0, 12).toString()).toBe('dwcp/join/1\0')
    expect(() => joinTranscript({ ...claim, challenge: new Uint8Array(31) })).toThrow(RangeError)
  })

  it('is signed with the node key and proves the secret the way the peer hello does', () => {
    const signer = new Ed25519Signer(new Uint8Array(randomBytes(32)))
    const transcript = joinTranscript({ ...claim, publicKey: signer.publicKey })
    const signature = signer.sign(transcript)
    expect(signer.verify(signer.publicKey, transcript, signature)).toBe(true)
    expect(signer.verify(signer.publicKey, joinTranscript({ ...claim, publicKey: signer.publicKey, id: 'n9' }), signature)).toBe(false)
    const secret = new TextEncoder().encode('s3cret')
    const proof = secretMac(secret, transcript)
    expect(secretProofProblem(secret, transcript, proof, 'n4')).toBeNull()
    expect(secretProofProblem(secret, transcript, secretMac(new TextEncoder().encode('other'), transcript), 'n4')).toMatch(/does not know the cluster secret/)
    expect(secretProofProblem(secret, transcript, null, 'n4')).toMatch(/proves no cluster secret/)
    expect(secretProofProblem(null, transcript, proof, 'n4')).toMatch(/this node has none/)
    expect(secretProofProblem(null, transcript, null, 'n4')).toBeNull()
  })

  it('travels as base64url', () => {
    for (const length of [0, 1, 2, 3, 31, 32, 64]) {
      const bytes = new Uint8Array(randomBytes(length))
      const text = base64urlOf(bytes)
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/)
      expect(text).toBe(Buffer.from(bytes).toString('base64url'))
      expect(bytesOfBase64url(text)).toEqual(bytes)
    }
    expect(() => bytesOfBase64url('a+b/')).toThrow(RangeError)
  })
})

describe('join challenges', () => {
  it('are single use, expire after challengeTtlMs, and evict the oldest past challengesMax', () => {
    let nowMs = 0
    let counter = 0
    const challenges = new JoinChallenges(
      (count) => {
        const bytes = new Uint8Array(count)
        new DataView(bytes.buffer).setUint32(0, ++counter)
        return bytes
      },
      () => nowMs,
    )
    const a = challenges.issue()
    expect(bytesOfBase64url(a)).toHaveLength(32)
    expect(challenges.take(a)).toBe('ok')
    expect(challenges.take(a)).toBe('unknown')
    expect(challenges.take(base64urlOf(new Uint8Array(32)))).toBe('unknown')
    const b = challenges.issue()
    nowMs += joinChallengeLimits.challengeTtlMs + 1
    expect(challenges.take(b)).toBe('expired')
    const first = challenges.issue()
    for (let index = 1; index < joinChallengeLimits.challengesMax; index++) challenges.issue()
    expect(challenges.size).toBe(joinChallengeLimits.challengesMax)
    const last = challenges.issue()
    expect(challenges.size).toBe(joinChallengeLimits.challengesMax)
    expect(challenges.take(first)).toBe('unknown')
    expect(challenges.take(last)).toBe('ok')
    // Expired ones are dropped when a new one is handed out.
    nowMs += joinChallengeLimits.challengeTtlMs + 1
    challenges.issue()
    expect(challenges.size).toBe(1)
  })
})
