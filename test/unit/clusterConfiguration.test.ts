import { describe, expect, it } from 'vitest'
import { bootstrapConfiguration, plainMember, readClusterConfiguration, writeClusterConfiguration } from '../../core/replica/clusterConfiguration.ts'
import { joinMember, promoteLearner, removeMember } from '../../core/replica/configurationChanges.ts'

const base = bootstrapConfiguration({ members: ['n1', 'n2', 'n3', 'n4'].map((id, index) => plainMember(id, ['eu', 'us', 'ap'][index % 3]!)), raftVoters: ['n1', 'n2', 'n3'], raftLearners: ['n4'] })

describe('cluster configuration', () => {
  it('bootstraps at version 1 with a voter target per region from its voters', () => {
    expect(base).toMatchObject({ version: 1, raftVoters: ['n1', 'n2', 'n3'], raftLearners: ['n4'], pbftReplicas: [], voterTargets: { eu: 1, us: 1, ap: 1 } })
    expect(readClusterConfiguration(writeClusterConfiguration(base))).toEqual(base)
  })

  it('refuses to write or read an invalid configuration, and bad bytes, with a RangeError', () => {
    expect(() => writeClusterConfiguration({ ...base, raftVoters: ['n9'] })).toThrow(/not a member/)
    expect(() => writeClusterConfiguration({ ...base, raftVoters: [] })).toThrow(/at least one Raft voter/)
    expect(() => readClusterConfiguration(new Uint8Array([2, 1]))).toThrow(RangeError)
    const bytes = writeClusterConfiguration(base)
    expect(() => readClusterConfiguration(bytes.slice(0, bytes.length - 1))).toThrow(RangeError)
  })

  it('a join adds a learner (idempotent for the same member, memberConflict for another key)', () => {
    const joined = joinMember(base, plainMember('n5', 'eu'))
    expect(joined.ok && joined.next !== 'unchanged' && joined.next).toMatchObject({ version: 2, raftLearners: ['n4', 'n5'] })
    expect(joinMember(base, plainMember('n4', 'eu'))).toEqual({ ok: true, next: 'unchanged' })
    expect(joinMember(base, plainMember('n4', 'eu', new Uint8Array(32).fill(1)))).toMatchObject({ ok: false, error: { code: 'memberConflict' } })
  })

  it('a removal keeps a quorum of live voters, never the last voter, never a PBFT replica', () => {
    const everyoneAlive = () => true
    expect(removeMember(base, 'n1', everyoneAlive)).toMatchObject({ ok: true, next: { version: 2, raftVoters: ['n2', 'n3'] } })
    expect(removeMember(base, 'n1', (id) => id !== 'n2')).toMatchObject({ ok: false, error: { code: 'belowQuorum' } })
    const single = bootstrapConfiguration({ members: [plainMember('n1', 'eu')], raftVoters: ['n1'] })
    expect(removeMember(single, 'n1', everyoneAlive)).toMatchObject({ ok: false, error: { code: 'lastVoter' } })
    expect(removeMember(base, 'n9', everyoneAlive)).toMatchObject({ ok: false, error: { code: 'notMember' } })
    const withPbft = { ...base, pbftReplicas: ['n4'] }
    expect(removeMember(withPbft, 'n4', everyoneAlive)).toMatchObject({ ok: false, error: { code: 'pbftReplica' } })
  })

  it('a promotion makes a learner a voter, at most votersMax', () => {
    expect(promoteLearner(base, 'n4')).toMatchObject({ ok: true, next: { raftVoters: ['n1', 'n2', 'n3', 'n4'], raftLearners: [] } })
    expect(promoteLearner(base, 'n1')).toMatchObject({ ok: false, error: { code: 'notLearner' } })
    const ids = Array.from({ length: 8 }, (_, index) => `n${index + 1}`)
    const seven = bootstrapConfiguration({ members: ids.map((id) => plainMember(id, 'eu')), raftVoters: ids.slice(0, 7), raftLearners: ['n8'] })
    expect(promoteLearner(seven, 'n8')).toMatchObject({ ok: false, error: { code: 'tooManyVoters' } })
  })
})
