import { describe, expect, it } from 'vitest'
import { autopilotDecision, type AutopilotInput, type PeerProgress } from '../../core/replica/autopilot.ts'
import { bootstrapConfiguration, plainMember } from '../../core/replica/clusterConfiguration.ts'

// n1 eu, n2 us, n3 ap voters; n4 eu, n5 us learners; n1 leads.
const configuration = bootstrapConfiguration({ members: ['n1', 'n2', 'n3', 'n4', 'n5'].map((id, index) => plainMember(id, ['eu', 'us', 'ap'][index % 3]!)), raftVoters: ['n1', 'n2', 'n3'], raftLearners: ['n4', 'n5'] })
const nowMs = 100_000
const heard = (agoMs: number, lagEntries = 0): PeerProgress => ({ lastHeardMs: nowMs - agoMs, lagEntries })

function decide(peers: Record<string, PeerProgress>, over: Partial<AutopilotInput> = {}) {
  return autopilotDecision({ configuration, leader: 'n1', nowMs, peers: new Map(Object.entries(peers)), deadVoterRemoveMs: 30_000, aliveWindowMs: 2_000, promoteLagEntriesMax: 16, ...over })
}

describe('autopilot', () => {
  it('does nothing while every voter is alive and every region has its voters', () => {
    expect(decide({ n2: heard(0), n3: heard(0), n4: heard(0), n5: heard(0) })).toBeNull()
  })

  it('removes a voter silent for deadVoterRemoveMs while the voters left keep a live quorum, and not before', () => {
    expect(decide({ n2: heard(29_999), n3: heard(0), n4: heard(0), n5: heard(0) })).toBeNull()
    expect(decide({ n2: heard(30_000), n3: heard(0), n4: heard(0), n5: heard(0) })).toMatchObject({ kind: 'removeDeadVoter', member: 'n2' })
    // With n3 down too, n1 alone is not a quorum of {n1, n3}: nothing is removed.
    expect(decide({ n2: heard(40_000), n3: heard(5_000), n4: heard(0), n5: heard(0) })).toBeNull()
  })

  it('promotes a caught-up learner of a region below its target, else any caught-up one while voters are below the targets sum', () => {
    const withoutUs = { ...configuration, raftVoters: ['n1', 'n3'] }
    expect(decide({ n3: heard(0), n4: heard(0), n5: heard(0) }, { configuration: withoutUs })).toMatchObject({ kind: 'promote', member: 'n5' })
    // n5 (us) is behind: n4 (eu) takes the place, as no us learner is caught up.
    expect(decide({ n3: heard(0), n4: heard(0), n5: heard(0, 500) }, { configuration: withoutUs })).toMatchObject({ kind: 'promote', member: 'n4' })
    // A learner not heard from is not promoted.
    expect(decide({ n3: heard(0), n4: heard(10_000), n5: heard(10_000) }, { configuration: withoutUs })).toBeNull()
  })

  it('never goes beyond votersMax voters', () => {
    const ids = Array.from({ length: 8 }, (_, index) => `n${index + 1}`)
    const seven = bootstrapConfiguration({ members: ids.map((id) => plainMember(id, 'eu')), raftVoters: ids.slice(0, 7), raftLearners: ['n8'], voterTargets: { eu: 7 } })
    const peers = Object.fromEntries(ids.slice(1).map((id) => [id, heard(0)]))
    expect(decide(peers, { configuration: { ...seven, voterTargets: { eu: 7 } } })).toBeNull()
  })
})
