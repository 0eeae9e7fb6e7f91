/**
 * dwcp tui: the terminal UI, attached to live nodes (their URLs, or every
 * node of the cluster `dwcp up` runs from --data) or to a simulation run
 * in-process (--sim SCENARIO --seed N). Several clusters are contexts
 * (`:ctx`): the URLs given, each --context NAME=URL,…, and the cluster
 * `dwcp up` runs under --data when there is one. Without a terminal it
 * prints one plain snapshot (of the first context) and exits.
 */
import type { CommandModule } from 'yargs'
import { screenNamed } from '../../tui/app/screens.ts'
import { simWorldKinds } from '../../tui/data/sim/simKinds.ts'
import { simPacing } from '../../tui/data/sim/simSource.ts'
import type { TuiTarget } from '../../tui/main.ts'
import { defaultDataDir } from '../client/targets.ts'
import { UsageError } from '../exitCodes.ts'
import { integerOption } from '../options.ts'
import { discoverContexts } from '../edgeContexts.ts'
import { liveContexts } from '../tuiContexts.ts'

/** Without a terminal, a simulation is printed at this virtual time unless --at says otherwise: its cluster has a leader by then. */
const plainSimAtUs = 5_000_000

interface TuiArgs {
  urls: string[]
  context: string[]
  sim?: string
  seed: number
  nodes?: number
  speed: number
  at?: number
  readonly: boolean
  token?: string
  data: string
  screen?: string
}

export const tuiCommand: CommandModule<object, TuiArgs> = {
  command: 'tui [urls..]',
  describe: 'Terminal UI: attach to nodes (default: the cluster dwcp up runs) or to a simulation (--sim)',
  builder: (yargs) =>
    yargs
      .positional('urls', {
        type: 'string',
        array: true,
        default: [],
        describe: 'node URLs, http(s)://HOST:PORT, or an edge Worker URL (all its regions and joined nodes; ?region=ID: that region alone) (default: the nodes in --data/up.json)',
      })
      .option('context', { type: 'string', array: true, default: [], describe: 'another cluster, NAME=URL[,URL…] (repeatable): switch with :ctx NAME' })
      .option('sim', { type: 'string', describe: `run a simulation in-process instead: ${[...simWorldKinds.values()].map((kind) => kind.name).join(', ')}` })
      .option('seed', { type: 'number', default: 1, describe: 'the simulation seed (the same seed replays the same run)' })
      .option('nodes', { type: 'number', describe: 'nodes in the simulation (default per scenario)' })
      .option('speed', { type: 'number', default: 1, describe: `virtual time per wall time (${simPacing.speeds[0]} to ${simPacing.speeds[simPacing.speeds.length - 1]})` })
      .option('at', { type: 'number', describe: 'start the simulation at this virtual second (without a terminal: print it there; default 5)' })
      .option('readonly', { type: 'boolean', default: false, describe: 'look only: no fault hotkeys' })
      .option('token', { type: 'string', describe: 'bearer token (default: env DWCP_TOKEN)' })
      .option('data', { type: 'string', default: defaultDataDir, describe: 'the data dir of dwcp up, to find its nodes' })
      .option('screen', { type: 'string', describe: 'the view to open: overview, members, state, convergence, consensus, events' })
      .example('$0 tui', 'the cluster dwcp up started')
      .example('$0 tui http://127.0.0.1:7701 http://127.0.0.1:7702', 'two nodes')
      .example('$0 tui http://127.0.0.1:8787', 'an edge Worker (wrangler dev): every region object and joined node, one row each')
      .example('$0 tui --context prod=http://10.0.0.1:7701,http://10.0.0.2:7701', 'the dwcp up cluster and prod: :ctx lists both')
      .example('$0 tui --sim mixed --seed 1', 'watch a simulation; [ steps back, . steps one event')
      .example('$0 tui --sim raft --seed 3', 'Raft alone: leader, term, log per node (Overview, Consensus)')
      .example('$0 tui --sim churn --nodes 1000', 'a thousand-member SWIM cluster'),
  handler: async (args) => {
    const screen = args.screen === undefined ? undefined : (screenNamed(args.screen) ?? undefined)
    if (args.screen !== undefined && screen === undefined) throw new UsageError(`--screen: unknown view '${args.screen}'`)
    const target = args.sim !== undefined ? simTarget(args) : await liveTarget(args)
    // Ink and React load only when the UI runs, not with every simulator command; React's production build
    // unless told otherwise (the development one checks and logs every render: several times the CPU).
    process.env['NODE_ENV'] ??= 'production'
    const { runTui } = await import('../../tui/main.ts')
    await runTui({ target, readonly: args.readonly, screen, stdout: process.stdout, stdin: process.stdin, env: process.env })
  },
}

function simTarget(args: TuiArgs): TuiTarget {
  if (args.urls.length > 0 || args.context.length > 0) throw new UsageError('give node URLs (or --context) or --sim, not both')
  const world = simWorldKinds.get(args.sim!)
  if (world === undefined) throw new UsageError(`--sim: unknown scenario '${args.sim}'; the TUI shows: ${[...simWorldKinds.keys()].join(', ')} (smoke's toy register has nothing to show)`)
  const seed = integerOption('seed', args.seed, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  const nodes = args.nodes === undefined ? undefined : integerOption('nodes', args.nodes, world.nodesMin, world.nodesMax)
  const speeds = simPacing.speeds
  if (typeof args.speed !== 'number' || !(args.speed >= speeds[0]! && args.speed <= speeds[speeds.length - 1]!)) throw new UsageError(`--speed must be from ${speeds[0]} to ${speeds[speeds.length - 1]}, got ${String(args.speed)}`)
  if (args.at !== undefined && !(typeof args.at === 'number' && args.at >= 0 && Number.isFinite(args.at))) throw new UsageError(`--at must be a number of seconds >= 0, got ${String(args.at)}`)
  const atUs = args.at !== undefined ? Math.round(args.at * 1_000_000) : process.stdout.isTTY === true ? 0 : plainSimAtUs
  return { kind: 'sim', world, seed, speed: args.speed, atUs, ...(nodes === undefined ? {} : { nodes }) }
}

/** The contexts (cli/tuiContexts.ts), with the token from --token or DWCP_TOKEN; cluster ids and edge Worker regions looked up (cli/edgeContexts.ts). */
async function liveTarget(args: TuiArgs): Promise<TuiTarget> {
  const token = args.token ?? (process.env['DWCP_TOKEN'] === undefined || process.env['DWCP_TOKEN'] === '' ? null : process.env['DWCP_TOKEN'])
  return { kind: 'live', contexts: await discoverContexts(liveContexts(args.urls, args.context, args.data), token), token }
}
