import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { Hello, helloMac, helloTranscript, type HelloIdentity, type HelloStep } from '../../node/peer/hello.ts'
import { writeProof } from '../../node/peer/wire.ts'

const signers = new Map(['n1', 'n2', 'n3'].map((id) => [id, new Ed25519Signer(new Uint8Array(randomBytes(32)))]))

function identity(self: string, overrides: Partial<HelloIdentity> = {}): HelloIdentity {
  return {
    clusterId: 'c',
    self,
    signer: signers.get(self) ?? new Ed25519Signer(new Uint8Array(randomBytes(32))),
    secret: new TextEncoder().encode('s'),
    session: new Uint8Array(randomBytes(16)),
    publicKeyOf: (id) => signers.get(id)?.publicKey ?? null,
    ...overrides,
  }
}

function nonce(): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

function proofOf(step: HelloStep): Uint8Array {
  if (step.kind !== 'proof') throw new Error(`expected a proof, got ${JSON.stringify(step)}`)
  return step.proof
}

/** A dialer (n1 → n2) and an acceptor (n2) through both challenges; their proofs. */
function exchange(dialerIdentity: HelloIdentity, acceptorIdentity: HelloIdentity) {
  const dialer = new Hello(dialerIdentity, 'n2', nonce())
  const acceptor = new Hello(acceptorIdentity, null, nonce())
  const dialerProof = proofOf(dialer.onChallenge(acceptor.challenge()))
  const acceptorProof = proofOf(acceptor.onChallenge(dialer.challenge()))
  return { dialer, acceptor, dialerProof, acceptorProof }
}

describe('signed hello', () => {
  it('authenticates both sides as the members they claim, with their sessions', () => {
    const n1 = identity('n1')
    const n2 = identity('n2')
    const { dialer, acceptor, dialerProof, acceptorProof } = exchange(n1, n2)
    const atAcceptor = acceptor.onProof(dialerProof)
    expect(atAcceptor).toMatchObject({ kind: 'authenticated', peer: 'n1' })
    expect(atAcceptor.kind === 'authenticated' && [...atAcceptor.session]).toEqual([...n1.session])
    expect(dialer.onProof(acceptorProof)).toMatchObject({ kind: 'authenticated', peer: 'n2' })
    expect(dialer.authenticated && acceptor.authenticated).toBe(true)
    expect(acceptor.onProof(dialerProof)).toMatchObject({ kind: 'refused', reason: 'malformed' })
  })

  it('a proof is good for one socket only: replayed on another (another nonce), or reflected back, it fails', () => {
    const first = exchange(identity('n1'), identity('n2'))
    const second = exchange(identity('n1'), identity('n2'))
    expect(second.acceptor.onProof(first.dialerProof)).toMatchObject({ kind: 'refused', reason: 'badSignature' })
    // n2's own proof sent back to n2, as if from n1.
    expect(first.acceptor.onProof(first.acceptorProof)).toMatchObject({ kind: 'refused', reason: 'badSignature' })
  })

  it('refuses a wrong cluster, an unknown member, itself, a wrong peer, another version and proofs out of order', () => {
    const acceptor = () => new Hello(identity('n2'), null, nonce())
    const challengeFrom = (who: HelloIdentity) => new Hello(who, null, nonce()).challenge()
    expect(acceptor().onChallenge(challengeFrom(identity('n1', { clusterId: 'other' })))).toMatchObject({ reason: 'wrongCluster' })
    expect(acceptor().onChallenge(challengeFrom(identity('n7')))).toMatchObject({ reason: 'unknownMember' })
    expect(acceptor().onChallenge(challengeFrom(identity('n2')))).toMatchObject({ reason: 'unknownMember' })
    expect(new Hello(identity('n1'), 'n2', nonce()).onChallenge(challengeFrom(identity('n3')))).toMatchObject({ reason: 'wrongPeer', message: 'dialed n2, answered by n3' })
    const versioned = challengeFrom(identity('n1'))
    versioned[1] = 9
    expect(acceptor().onChallenge(versioned)).toMatchObject({ reason: 'version' })
    expect(acceptor().onProof(writeProof({ signature: new Uint8Array(64), mac: null }))).toMatchObject({ reason: 'unauthenticated' })
    const twice = acceptor()
    twice.onChallenge(challengeFrom(identity('n1')))
    expect(twice.onChallenge(challengeFrom(identity('n1')))).toMatchObject({ reason: 'malformed' })
  })

  it('a signature by another key, a missing, wrong or unexpected secret: refused', () => {
    const impostor = exchange(identity('n1', { signer: new Ed25519Signer(new Uint8Array(randomBytes(32))) }), identity('n2'))
    expect(impostor.acceptor.onProof(impostor.dialerProof)).toMatchObject({ reason: 'badSignature' })
    for (const [secret, message] of [
      [null, /proves no cluster secret/],
      [new TextEncoder().encode('guess'), /does not know the cluster secret/],
    ] as const) {
      const { acceptor, dialerProof } = exchange(identity('n1', { secret }), identity('n2'))
      expect(acceptor.onProof(dialerProof)).toMatchObject({ reason: 'badSecret', message: expect.stringMatching(message) })
    }
    const unexpected = exchange(identity('n1'), identity('n2', { secret: null }))
    expect(unexpected.acceptor.onProof(unexpected.dialerProof)).toMatchObject({ reason: 'badSecret', message: expect.stringMatching(/this node has none/) })
    const noSecrets = exchange(identity('n1', { secret: null }), identity('n2', { secret: null }))
    expect(noSecrets.acceptor.onProof(noSecrets.dialerProof)).toMatchObject({ kind: 'authenticated' })
  })

  it('the transcript binds every field: changing any one changes the bytes signed', () => {
    const side = { id: 'n1', session: new Uint8Array(16), nonce: new Uint8Array(32) }
    const other = { id: 'n2', session: new Uint8Array(16).fill(1), nonce: new Uint8Array(32).fill(2) }
    const base = Buffer.from(helloTranscript('c', side, other)).toString('hex')
    const variants = [
      helloTranscript('d', side, other),
      helloTranscript('c', { ...side, id: 'n3' }, other),
      helloTranscript('c', side, { ...other, id: 'n3' }),
      helloTranscript('c', { ...side, session: new Uint8Array(16).fill(5) }, other),
      helloTranscript('c', side, { ...other, session: new Uint8Array(16).fill(5) }),
      helloTranscript('c', { ...side, nonce: new Uint8Array(32).fill(5) }, other),
      helloTranscript('c', side, { ...other, nonce: new Uint8Array(32).fill(5) }),
      helloTranscript('c', other, side),
    ].map((bytes) => Buffer.from(bytes).toString('hex'))
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1)
    expect(helloMac(new TextEncoder().encode('s'), helloTranscript('c', side, other))).toHaveLength(32)
  })
})
