/**
 * The cluster configuration as JSON (api/contract.ts ConfigurationBody) and
 * back: `address` travels as `url`, public keys as base64url. A configuration
 * read from JSON (a join answer, a persisted one) is checked as the core
 * checks every configuration it adopts (configurationProblem).
 */
import { configurationProblem, normalizeConfiguration, type ClusterConfiguration, type ConfigMember } from '../core/index.ts'
import type { ConfigMemberBody, ConfigurationBody } from './contract.ts'
import { base64urlOf, bytesOfBase64url } from './wire.ts'

export function configMemberBodyOf(member: ConfigMember): ConfigMemberBody {
  return { id: member.id, region: member.region, url: member.address, publicKey: member.publicKey.length === 0 ? '' : base64urlOf(member.publicKey), tags: { ...member.tags } }
}

export function configurationBodyOf(c: ClusterConfiguration): ConfigurationBody {
  return {
    version: c.version,
    members: c.members.map(configMemberBodyOf),
    raftVoters: [...c.raftVoters],
    raftLearners: [...c.raftLearners],
    pbftReplicas: [...c.pbftReplicas],
    voterTargets: { ...c.voterTargets },
    ...(c.pbftRunning === undefined ? {} : { pbftRunning: { epoch: c.pbftRunning.epoch, startSeq: c.pbftRunning.startSeq, replicas: [...c.pbftRunning.replicas] } }),
  }
}

export function configMemberOfBody(body: ConfigMemberBody): ConfigMember {
  return { id: body.id, region: body.region, address: body.url, publicKey: body.publicKey === '' ? new Uint8Array(0) : bytesOfBase64url(body.publicKey), tags: { ...body.tags } }
}

/** The configuration of `body` (already matched against configurationBodySchema); throws a RangeError naming the problem when the core would refuse it. */
export function configurationOfBody(body: ConfigurationBody): ClusterConfiguration {
  const c: ClusterConfiguration = {
    version: body.version,
    members: body.members.map(configMemberOfBody),
    raftVoters: [...body.raftVoters],
    raftLearners: [...body.raftLearners],
    pbftReplicas: [...body.pbftReplicas],
    voterTargets: { ...body.voterTargets },
    ...(body.pbftRunning === undefined ? {} : { pbftRunning: { epoch: body.pbftRunning.epoch, startSeq: body.pbftRunning.startSeq, replicas: [...body.pbftRunning.replicas] } }),
  }
  const problem = configurationProblem(c)
  if (problem !== null) throw new RangeError(`not a valid cluster configuration: ${problem}`)
  return normalizeConfiguration(c)
}
