/**
 * Real nodes (NodeRuntime: SQLite data dirs under `root`, peer links) with
 * the API on one port each, as `dwcp node` composes them: peer links arrive
 * through the HTTP server's /v1/peer upgrades. Servers start first (their
 * URLs go into the cluster file), then one runtime per node behind its
 * server; until its runtime opens, a node answers 503.
 */
import { join } from 'node:path'
import { Hono } from 'hono'
import { createApi } from '../../api/app.ts'
import type { ApiTokens } from '../../api/auth.ts'
import { readClusterFile } from '../../node/clusterConfig.ts'
import { openDataDir } from '../../node/dataDir.ts'
import { startHttpServer, type HttpServer } from '../../node/httpServer.ts'
import { NodeRuntime, type NodeRuntimeOptions } from '../../node/nodeRuntime.ts'

export interface ServedNode {
  readonly id: string
  readonly server: HttpServer
  runtime: NodeRuntime | null
}

export interface ServedClusterOptions {
  /** The data dirs go in `<root>/<id>`. */
  readonly root: string
  readonly ids: readonly string[]
  readonly clusterId: string
  readonly tokens: ApiTokens
  readonly replicaConfig?: NodeRuntimeOptions['replicaConfig']
  /** Receives what stops each server and runtime; the test runs them in reverse after it. */
  readonly stops: (() => Promise<void> | void)[]
}

const regions = ['eu', 'us', 'ap']

export async function startServedCluster(options: ServedClusterOptions): Promise<ServedNode[]> {
  const { root, tokens, stops } = options
  const nodes: ServedNode[] = []
  for (const id of options.ids) {
    const node = { runtime: null as NodeRuntime | null }
    let api: Hono | null = null
    const server = await startHttpServer({
      createApp: (ports) => {
        // The runtime opens once every URL is known: until then, the app answers 503.
        const app = new Hono()
        app.all('*', (c) => {
          if (node.runtime === null) return c.json({ error: { code: 'overloaded', message: 'starting' } }, 503)
          api ??= createApi({ backend: node.runtime, tokens, ...ports })
          return api.fetch(c.req.raw, c.env)
        })
        return app
      },
      onPeerUpgrade: (request, socket, head) => (node.runtime === null ? socket.destroy() : node.runtime.acceptPeer(request, socket, head)),
    })
    stops.push(() => server.close())
    nodes.push(Object.assign(node, { id, server }))
  }
  const members = nodes.map((node, index) => {
    const dataDir = openDataDir(join(root, node.id))
    dataDir.storage.close()
    return { id: node.id, region: regions[index % regions.length]!, url: node.server.url, publicKey: Buffer.from(dataDir.signer.publicKey).toString('base64url') }
  })
  const cluster = readClusterFile({ clusterId: options.clusterId, members })
  for (const node of nodes) {
    node.runtime = NodeRuntime.open({ id: node.id, cluster, dataDir: join(root, node.id), secret: null, dev: true, ...(options.replicaConfig === undefined ? {} : { replicaConfig: options.replicaConfig }) })
    stops.push(async () => {
      await node.runtime?.close()
      node.runtime = null
    })
  }
  return nodes
}
