/**
 * dwcp node: one node of a cluster, in the foreground. Settings come from
 * flags, DWCP_* environment variables and an optional JSON config file
 * (node/config.ts: flags > env > file > defaults, each checked, an error
 * naming the setting and its source); node/main.ts runs it.
 */
import type { Argv, CommandModule } from 'yargs'
import { ConfigError, resolveNodeConfig, type NodeFlags } from '../../node/config.ts'
import { exitCodes, UsageError } from '../exitCodes.ts'

interface NodeArgs extends NodeFlags {
  exitWithStdin: boolean
}

export const nodeCommand: CommandModule<object, NodeArgs> = {
  command: 'node',
  describe: 'Run one node of a cluster (settings: flags, DWCP_* env, --config FILE)',
  builder: (yargs) =>
    // Everything is read as a string (or a flag without default) so the config module checks it and names its source.
    yargs
      .option('config', {
        type: 'string',
        describe: 'JSON file of settings (keys: id, cluster, join, region, advertise, tags, data, host, port, token, viewerToken, secretFile, tlsCert, tlsKey, tlsCa, dev, wanLatency, leaveOnShutdown, deadVoterRemove); env DWCP_CONFIG',
      })
      .option('id', { type: 'string', describe: "this node's id in the cluster file (DWCP_ID)" })
      .option('cluster', { type: 'string', describe: 'the cluster file: members, urls, public keys (DWCP_CLUSTER); dwcp up writes .dwcp/cluster.json' })
      .option('join', { type: 'string', describe: 'join a running cluster through these members, tried in order: URL[,URL] (DWCP_JOIN); used once, later starts boot from the data dir' })
      .option('region', { type: 'string', describe: 'with --join: the region of the new node (DWCP_REGION)' })
      .option('advertise', { type: 'string', describe: 'with --join: the URL the members reach this node at (DWCP_ADVERTISE; default http://HOST:PORT)' })
      .option('tags', { type: 'string', describe: 'with --join: labels NAME=VALUE,… (DWCP_TAGS)' })
      .option('leave-on-shutdown', { type: 'boolean', describe: 'remove this node from the cluster on a graceful shutdown (DWCP_LEAVE_ON_SHUTDOWN; off: a restart keeps membership)' })
      .option('dead-voter-remove', { type: 'string', describe: 'as Raft leader, remove a voter unreachable this long, e.g. 10m (DWCP_DEAD_VOTER_REMOVE)' })
      .option('data', { type: 'string', describe: 'data dir: database and node key (DWCP_DATA; default .dwcp/<id>)' })
      .option('host', { type: 'string', describe: 'address to listen on (DWCP_HOST; default 127.0.0.1)' })
      .option('port', { type: 'string', describe: "port to listen on (DWCP_PORT; default the port of this member's url)" })
      .option('token', { type: 'string', describe: 'bearer token for writes and admin (DWCP_TOKEN); never printed' })
      .option('viewer-token', { type: 'string', describe: 'read-only bearer token for GETs and viewers (DWCP_VIEWER_TOKEN); never printed' })
      .option('secret-file', { type: 'string', describe: 'file holding the cluster secret peers prove in their hello (or the secret itself in DWCP_CLUSTER_SECRET)' })
      .option('tls-cert', { type: 'string', describe: 'PEM certificate: the API and peer links use TLS (DWCP_TLS_CERT)' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert (DWCP_TLS_KEY)' })
      .option('tls-ca', { type: 'string', describe: "PEM CA that signed the peers' certificates: peers authenticate mutually (DWCP_TLS_CA)" })
      .option('dev', { type: 'boolean', describe: 'enable the dev fault switch, POST /v1/admin/faults (DWCP_DEV)' })
      .option('wan-latency', { type: 'string', describe: 'delay added to links to other regions, e.g. 80ms (DWCP_WAN_LATENCY)' })
      .option('exit-with-stdin', { type: 'boolean', default: false, hidden: true, describe: 'stop when standard input closes (dwcp up: the nodes go down with it)' })
      .example('$0 node --id n1 --cluster .dwcp/cluster.json', 'node n1 of the cluster dwcp up made, data in .dwcp/n1')
      .example('$0 node --id n6 --region eu --port 7706 --data .dwcp/n6 --join http://127.0.0.1:7701,http://127.0.0.1:7702', 'a new node joins the running cluster') as unknown as Argv<NodeArgs>,
  handler: async (args) => {
    let config
    try {
      config = resolveNodeConfig(args, process.env)
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message)
      throw error
    }
    const { NodeStartError, runNode } = await import('../../node/main.ts')
    try {
      await runNode(config, { exitWithStdin: args.exitWithStdin, shutdownTimeoutExitCode: exitCodes.unavailable })
    } catch (error) {
      if (error instanceof NodeStartError) throw new UsageError(error.message)
      throw error
    }
    process.exitCode = exitCodes.ok
  },
}
