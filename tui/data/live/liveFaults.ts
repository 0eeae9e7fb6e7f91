/**
 * The fault hotkeys on a live cluster started with --dev: each node's fault
 * switch (`POST /v1/admin/faults`, write token, loopback only). A partition
 * cuts one node's links to every other (its switch drops frames both ways);
 * latency delays every frame it sends; kill pauses it (no peer frames in or
 * out: to its peers it is gone, though the process and its API live on) and
 * restart resumes it; heal clears every switch.
 */
import type { FaultRequest, FaultTarget } from '../clusterSource.ts'
import type { LiveNodeSource } from './liveNodeSource.ts'
import { requestJson } from './nodeHttp.ts'

export class LiveFaults implements FaultTarget {
  private readonly nodes: readonly LiveNodeSource[]

  constructor(nodes: readonly LiveNodeSource[]) {
    this.nodes = nodes
  }

  async inject(fault: FaultRequest): Promise<string> {
    if (fault.kind === 'heal') {
      const results = await Promise.allSettled(this.nodes.map((node) => requestJson(node.http(), 'POST', '/v1/admin/faults', { partition: null, latencyMs: null, loss: null, pause: false })))
      const failed = results.flatMap((result, index) => (result.status === 'rejected' ? [`${this.nodes[index]!.nodeId}: ${(result.reason as Error).message}`] : []))
      if (failed.length === this.nodes.length) throw new Error(`heal failed everywhere: ${failed[0]}`)
      return failed.length === 0 ? `healed ${this.nodes.length} nodes` : `healed ${this.nodes.length - failed.length} of ${this.nodes.length} nodes (${failed.join('; ')})`
    }
    const node = this.nodes.find((candidate) => candidate.nodeId === fault.node)
    if (node === undefined) throw new Error(`no node ${fault.node} in this cluster`)
    switch (fault.kind) {
      case 'partition': {
        const others = this.nodes.map((candidate) => candidate.nodeId).filter((id) => id !== fault.node)
        await requestJson(node.http(), 'POST', '/v1/admin/faults', { partition: others })
        return `partitioned ${fault.node} from ${others.join(', ')}`
      }
      case 'latency':
        await requestJson(node.http(), 'POST', '/v1/admin/faults', { latencyMs: fault.rttMs })
        return `${fault.rttMs} ms added to every frame ${fault.node} sends`
      case 'kill':
        await requestJson(node.http(), 'POST', '/v1/admin/faults', { pause: true })
        return `paused ${fault.node}: no peer frames in or out`
      case 'restart':
        await requestJson(node.http(), 'POST', '/v1/admin/faults', { pause: false })
        return `resumed ${fault.node}`
    }
  }
}
