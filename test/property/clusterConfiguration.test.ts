import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { configurationLimits, normalizeConfiguration, readClusterConfiguration, writeClusterConfiguration, type ClusterConfiguration, type ConfigMember } from '../../core/replica/clusterConfiguration.ts'

const idArbitrary = fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/)
const memberArbitrary = (id: string): fc.Arbitrary<ConfigMember> =>
  fc.record({
    id: fc.constant(id),
    region: fc.constantFrom('eu', 'us', 'ap', 'région-ß'),
    address: fc.oneof(
      fc.constant(''),
      fc.webUrl({ size: 'small' }).filter((url) => url.length <= configurationLimits.addressBytesMax),
    ),
    publicKey: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 32, maxLength: 32 })),
    tags: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
  })

/** Valid configurations: members with distinct ids, voters, learners and a PBFT group among them, targets per region. */
const configurationArbitrary: fc.Arbitrary<ClusterConfiguration> = fc.uniqueArray(idArbitrary, { minLength: 1, maxLength: 12 }).chain((ids) =>
  fc
    .record({
      version: fc.integer({ min: 1, max: 2 ** 40 }),
      members: fc.tuple(...ids.map(memberArbitrary)),
      roles: fc.array(fc.constantFrom('voter', 'learner', 'none'), { minLength: ids.length, maxLength: ids.length }),
      pbft: fc.subarray(ids),
      targets: fc.dictionary(fc.constantFrom('eu', 'us', 'ap'), fc.integer({ min: 0, max: configurationLimits.votersMax })),
    })
    .map(({ version, members, roles, pbft, targets }) => {
      let raftVoters = ids.filter((_, index) => roles[index] === 'voter').slice(0, configurationLimits.votersMax)
      if (raftVoters.length === 0) raftVoters = [ids[0]!]
      const raftLearners = ids.filter((id, index) => roles[index] === 'learner' && !raftVoters.includes(id))
      return normalizeConfiguration({ version, members, raftVoters, raftLearners, pbftReplicas: pbft, voterTargets: targets })
    }),
)

describe('cluster configuration codec', () => {
  it('reads back every configuration it writes, and writes it back to the same bytes', () => {
    fc.assert(
      fc.property(configurationArbitrary, (configuration) => {
        const bytes = writeClusterConfiguration(configuration)
        const read = readClusterConfiguration(bytes)
        expect(read).toEqual(configuration)
        expect(writeClusterConfiguration(read)).toEqual(bytes)
      }),
      { numRuns: 200 },
    )
  })

  it('on arbitrary or mutated bytes, either throws a RangeError or reads a valid configuration', () => {
    const valid = writeClusterConfiguration(
      normalizeConfiguration({ version: 3, members: [{ id: 'n1', region: 'eu', address: 'http://a:1', publicKey: new Uint8Array(32), tags: { dc: 'x' } }], raftVoters: ['n1'], raftLearners: [], pbftReplicas: [], voterTargets: { eu: 1 } }),
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => Uint8Array.from(valid, (value, index) => (index === at ? byte : value))),
        ),
        (bytes) => {
          try {
            const read = readClusterConfiguration(bytes)
            expect(writeClusterConfiguration(read)).toEqual(bytes)
          } catch (error) {
            expect(error).toBeInstanceOf(RangeError)
          }
        },
      ),
      { numRuns: 3000 },
    )
  })
})
