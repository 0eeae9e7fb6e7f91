/**
 * Configuration agreement (issue 18): every replica that applied
 * configuration version v holds the same configuration for v; each replica's
 * versions only grow (across restarts too: the one it applied is persisted
 * before anything depending on it leaves); there are never more than
 * votersMax voters; and no change removes a quorum: from one version to the
 * next at most one voter comes or goes (single-server changes, so any
 * quorum of the one meets any quorum of the other) and some voter remains.
 */
import { configurationLimits, writeClusterConfiguration, type ClusterConfiguration } from '../../core/replica/clusterConfiguration.ts'
import type { NodeId } from '../../core/ports.ts'
import type { ViolationLog } from '../violation.ts'

interface Seen {
  readonly bytes: string
  readonly configuration: ClusterConfiguration
  readonly node: NodeId
}

export interface ConfigurationCheckResult {
  /** The highest version any replica applied. */
  readonly versionMax: number
  readonly configurationsApplied: number
}

export class ConfigurationChecker {
  private readonly byVersion = new Map<number, Seen>()
  private readonly latestOf = new Map<NodeId, number>()
  private applied = 0
  private readonly problems: { readonly atUs: number; readonly node: NodeId; readonly invariant: string; readonly message: string }[] = []

  /** A replica reported applying `configuration` (its configurationChanged event) at `atUs`. */
  record(node: NodeId, configuration: ClusterConfiguration, atUs: number): void {
    this.applied++
    const bytes = Array.from(writeClusterConfiguration(configuration), (byte) => byte.toString(16).padStart(2, '0')).join('')
    const version = configuration.version
    const seen = this.byVersion.get(version)
    if (seen === undefined) this.byVersion.set(version, { bytes, configuration, node })
    else if (seen.bytes !== bytes)
      this.problems.push({
        atUs,
        node,
        invariant: 'configurationAgreement',
        message: `configuration ${version} differs from ${seen.node}'s: voters ${configuration.raftVoters.join(',')} vs ${seen.configuration.raftVoters.join(',')}, members ${configuration.members.length} vs ${seen.configuration.members.length}`,
      })
    const latest = this.latestOf.get(node)
    if (latest !== undefined && version < latest) this.problems.push({ atUs, node, invariant: 'configurationVersionGrows', message: `applied configuration ${version} after ${latest}` })
    this.latestOf.set(node, Math.max(latest ?? 0, version))
    if (configuration.raftVoters.length > configurationLimits.votersMax) this.problems.push({ atUs, node, invariant: 'votersMax', message: `configuration ${version} has ${configuration.raftVoters.length} voters` })
  }

  check(seed: number, violations: ViolationLog): ConfigurationCheckResult {
    for (const problem of this.problems) violations.add({ seed, invariant: problem.invariant, kind: 'safety', atMs: Math.floor(problem.atUs / 1000), node: problem.node, message: problem.message })
    const versions = [...this.byVersion.keys()].sort((a, b) => a - b)
    for (const version of versions) {
      const next = this.byVersion.get(version + 1)
      if (next === undefined) continue
      const before = new Set(this.byVersion.get(version)!.configuration.raftVoters)
      const after = new Set(next.configuration.raftVoters)
      const changed = [...before].filter((id) => !after.has(id)).length + [...after].filter((id) => !before.has(id)).length
      if (changed > 1 || after.size === 0)
        violations.add({ seed, invariant: 'quorumKept', kind: 'safety', atMs: -1, node: next.node, message: `configuration ${version} → ${version + 1} changes ${changed} voters (${[...before].join(',')} → ${[...after].join(',')})` })
    }
    return { versionMax: versions.at(-1) ?? 0, configurationsApplied: this.applied }
  }
}
