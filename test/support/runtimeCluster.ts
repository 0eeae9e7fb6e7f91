/**
 * NodeRuntimes on 127.0.0.1, each behind a bare HTTP(S) server whose
 * upgrades go to its peer links, with real SQLite data dirs under `root`:
 * what `dwcp up` will run as processes, in one process for tests.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import { readClusterFile, type ClusterConfig } from '../../node/clusterConfig.ts'
import { openDataDir } from '../../node/dataDir.ts'
import { NodeRuntime, type NodeRuntimeOptions } from '../../node/nodeRuntime.ts'
import type { PeerTls } from '../../node/peerLinks.ts'
import { closeServer, listen, waitFor } from './loopback.ts'

export interface RuntimeNode {
  readonly id: string
  readonly dir: string
  readonly server: Server
  readonly url: string
  runtime: NodeRuntime | null
}

export interface RuntimeClusterOptions {
  readonly regions?: readonly string[]
  readonly secret?: string | null
  readonly dev?: boolean
  /** Per node: its certificate and key, and the CA (servers ask peers for a client certificate). */
  readonly tls?: (id: string) => PeerTls
  readonly wanLatency?: NodeRuntimeOptions['wanLatency']
}

export class RuntimeCluster {
  readonly nodes: RuntimeNode[]
  readonly cluster: ClusterConfig
  private readonly options: RuntimeClusterOptions

  private constructor(nodes: RuntimeNode[], cluster: ClusterConfig, options: RuntimeClusterOptions) {
    this.nodes = nodes
    this.cluster = cluster
    this.options = options
  }

  /** Servers on free ports, data dirs (their keys go into the cluster file), then one runtime per node. */
  static async start(root: string, ids: readonly string[], options: RuntimeClusterOptions = {}): Promise<RuntimeCluster> {
    const nodes: RuntimeNode[] = []
    for (const id of ids) {
      const tls = options.tls?.(id)
      const server = tls === undefined ? createHttpServer() : createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false })
      const port = await listen(server)
      const node: RuntimeNode = { id, dir: join(root, id), server, url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, runtime: null }
      server.on('upgrade', (request, socket, head) => (node.runtime === null ? socket.destroy() : node.runtime.acceptPeer(request, socket, head)))
      nodes.push(node)
    }
    const regions = options.regions ?? ['eu', 'us', 'ap']
    const members = nodes.map((node, index) => {
      const dataDir = openDataDir(node.dir)
      dataDir.storage.close()
      return { id: node.id, region: regions[index % regions.length]!, url: node.url, publicKey: Buffer.from(dataDir.signer.publicKey).toString('base64url') }
    })
    // Through the file's schema, as `dwcp node --cluster FILE` reads it.
    const cluster = readClusterFile(JSON.parse(JSON.stringify({ clusterId: 'test', members })))
    const started = new RuntimeCluster(nodes, cluster, options)
    for (const node of nodes) started.open(node.id)
    return started
  }

  node(id: string): RuntimeNode {
    const node = this.nodes.find((candidate) => candidate.id === id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  runtime(id: string): NodeRuntime {
    const runtime = this.node(id).runtime
    if (runtime === null) throw new Error(`${id} is not running`)
    return runtime
  }

  /** Opens `id`'s runtime from its data dir. */
  open(id: string): NodeRuntime {
    const node = this.node(id)
    if (node.runtime !== null) throw new Error(`${id} is running already`)
    node.runtime = NodeRuntime.open({
      id,
      cluster: this.cluster,
      dataDir: node.dir,
      secret: this.options.secret ?? null,
      tls: this.options.tls?.(id) ?? null,
      wanLatency: this.options.wanLatency ?? null,
      dev: this.options.dev ?? false,
    })
    return node.runtime
  }

  async stop(id: string): Promise<void> {
    const node = this.node(id)
    await node.runtime?.close()
    node.runtime = null
  }

  running(): NodeRuntime[] {
    return this.nodes.flatMap((node) => (node.runtime === null ? [] : [node.runtime]))
  }

  /** Waits until every running node (or those named) knows the same Raft leader; returns it. */
  async leader(among: readonly string[] = this.running().map((runtime) => runtime.id), timeoutMs = 20_000): Promise<string> {
    let leader: string | null = null
    await waitFor(
      `a leader known by ${among.join(', ')}`,
      () => {
        const seen = new Set(among.map((id) => this.runtime(id).host.replica.leader))
        leader = seen.size === 1 ? [...seen][0]! : null
        return leader !== null && among.includes(leader)
      },
      timeoutMs,
    )
    return leader!
  }

  async close(): Promise<void> {
    for (const node of this.nodes) {
      await node.runtime?.close()
      node.runtime = null
      await closeServer(node.server)
    }
  }
}
