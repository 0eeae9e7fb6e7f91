/**
 * The terminal UI: a header, the sources' status, the current view (or the
 * detail of its selected row), and a footer that shows what is being typed
 * or what the last action did. Keys go through `reduceKey`; its effects
 * (quit, faults, the simulation's controls, focus) are carried out here.
 */
import { Box, Text, useApp, useInput, useStdin, useWindowSize } from 'ink'
import { createElement as h, useMemo, useRef, useState, type ReactElement } from 'react'
import type { ClusterEvent } from '../data/clusterEvent.ts'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import type { FaultRequest, KeyReading } from '../data/clusterSource.ts'
import type { ContextsSnapshot, ContextSwitch } from '../data/contexts.ts'
import type { Source } from '../data/source.ts'
import { Help } from '../components/Help.ts'
import { StatusBar } from '../components/StatusBar.ts'
import { useTone } from '../components/theme.ts'
import { useCluster } from '../hooks/useCluster.ts'
import { useContexts } from '../hooks/useContexts.ts'
import { useKeyReadings } from '../hooks/useKeyReadings.ts'
import { useNow } from '../hooks/useNow.ts'
import { Consensus, consensusModel } from '../screens/Consensus.ts'
import { Contexts, contextsModel } from '../screens/Contexts.ts'
import { Convergence, convergenceModel } from '../screens/Convergence.ts'
import { EventDetail, KeyDetail, MemberDetail, NodeDetail } from '../screens/details.ts'
import { Events, eventsModel } from '../screens/Events.ts'
import { Members, membersModel } from '../screens/Members.ts'
import { Overview, overviewModel } from '../screens/Overview.ts'
import type { ScreenModel } from '../screens/screenModel.ts'
import { State, stateModel } from '../screens/State.ts'
import { screenTitles, type ScreenName } from './screens.ts'
import { initialUiState, reduceKey, splitKeys, type Effect, type KeyContext, type KeyInput, type SimAction, type UiState } from './uiState.ts'

/** What the app needs of the cluster model. */
export interface AppModel extends Source<ClusterSnapshot> {
  focus(nodeId: string | null): void
  readKey(nodeId: string, key: string): Promise<KeyReading>
  injectFault(fault: FaultRequest): Promise<string>
}

/** A simulation's controls (SimSource). */
export interface SimControls {
  togglePlay(): void
  play(): void
  pause(): void
  step(): void
  changeSpeed(direction: 1 | -1): void
  setSpeed(speed: number): void
  seek(targetUs: number): void
  seekBy(deltaUs: number): void
  reset(): void
}

export interface AppProps {
  readonly model: AppModel
  readonly sim: SimControls | null
  readonly readonly: boolean
  readonly initialScreen?: ScreenName
  /** Several clusters (k9s contexts): the one on screen is theirs to say, and `model` is then its model at the start. */
  readonly contexts?: ContextSwitch | null
  /** Terminal size; by default the terminal's own (tests fix it). */
  readonly columns?: number
  readonly rows?: number
  /** Called when the user quits, before the app unmounts. */
  readonly onQuit?: () => void
}

const headerLines = 1
const footerLines = 1

function runSim(sim: SimControls, action: SimAction): void {
  switch (action.kind) {
    case 'toggle':
      return sim.togglePlay()
    case 'play':
      return sim.play()
    case 'pause':
      return sim.pause()
    case 'step':
      return sim.step()
    case 'speed':
      return sim.changeSpeed(action.direction)
    case 'setSpeed':
      return sim.setSpeed(action.speed)
    case 'seekBy':
      return sim.seekBy(action.deltaUs)
    case 'seek':
      return sim.seek(action.us)
    case 'reset':
      return sim.reset()
  }
}

type AnyModel = ScreenModel<unknown>

function screenModelFor(ui: UiState, snapshot: ClusterSnapshot, events: readonly ClusterEvent[], contexts: ContextsSnapshot | null): AnyModel {
  const filter = ui.filters[ui.screen]
  switch (ui.screen) {
    case 'overview':
      return overviewModel(snapshot, filter) as AnyModel
    case 'members':
      return membersModel(snapshot, filter, ui.memberSort) as AnyModel
    case 'state':
      return stateModel(snapshot, filter) as AnyModel
    case 'convergence':
      return convergenceModel(snapshot, filter) as AnyModel
    case 'consensus':
      return consensusModel(snapshot, filter) as AnyModel
    case 'events':
      return eventsModel(events, filter) as AnyModel
    case 'contexts':
      return contextsModel(contexts, snapshot, filter) as AnyModel
  }
}

export function App(props: AppProps): ReactElement {
  const { sim } = props
  const contexts = useContexts(props.contexts ?? null)
  const model = contexts?.model ?? props.model
  const snapshot = useCluster(model)
  const app = useApp()
  const { isRawModeSupported } = useStdin()
  const windowSize = useWindowSize()
  const tone = useTone()
  const width = props.columns ?? windowSize.columns
  const height = props.rows ?? windowSize.rows
  const [ui, setUi] = useState<UiState>(() => initialUiState(props.initialScreen))
  const uiRef = useRef(ui)
  uiRef.current = ui

  // Paused events stay as they were when `p` was pressed.
  const frozen = useRef<readonly ClusterEvent[] | null>(null)
  if (ui.eventsPaused && frozen.current === null) frozen.current = snapshot.events
  if (!ui.eventsPaused) frozen.current = null
  const events = frozen.current ?? snapshot.events

  const screenModel = useMemo(() => screenModelFor(ui, snapshot, events, contexts), [snapshot, events, contexts, ui.screen, ui.filters, ui.memberSort])
  const rowCount = screenModel.rows.length
  const cursorRaw = ui.cursors[ui.screen]
  const cursor = rowCount === 0 ? -1 : cursorRaw === -1 ? -1 : Math.min(cursorRaw, rowCount - 1)
  const selectedIndex = cursor === -1 ? rowCount - 1 : cursor
  const selectedRow = selectedIndex >= 0 ? screenModel.rows[selectedIndex] : undefined

  const statusLines = snapshot.sim !== null && snapshot.sim.endUs !== null && width >= 12 ? 2 : 1
  const bodyHeight = Math.max(3, height - headerLines - statusLines - footerLines)
  const context: KeyContext = {
    rowCount,
    pageRows: Math.max(1, bodyHeight - 3),
    selected: selectedRow === undefined ? null : screenModel.selected(selectedRow),
    sim: sim !== null,
    faults: snapshot.faultsAvailable,
    readonly: props.readonly,
  }
  const contextRef = useRef(context)
  contextRef.current = context

  const say = (text: string, bad: boolean) => {
    const next = { ...uiRef.current, message: { text, bad } }
    uiRef.current = next
    setUi(next)
  }
  const run = (effect: Effect) => {
    switch (effect.kind) {
      case 'quit':
        props.onQuit?.()
        app.exit()
        return
      case 'context':
        if (props.contexts == null) return say('one cluster here: start dwcp tui with several URLs, --context NAME=URL,… or a running dwcp up', true)
        if (!props.contexts.switchTo(effect.name))
          return say(
            `no context ${effect.name}: ${props.contexts
              .getSnapshot()
              .rows.map((row) => row.name)
              .join(', ')}`,
            true,
          )
        return say(`context ${effect.name}`, false)
      case 'focus':
        if (!model.getSnapshot().nodes.some((node) => node.id === effect.node)) return say(`no node ${effect.node}`, true)
        model.focus(effect.node)
        return
      case 'fault':
        model.injectFault(effect.fault).then(
          (text) => say(text, false),
          (error: Error) => say(error.message, true),
        )
        return
      case 'sim':
        if (sim === null) return
        try {
          runSim(sim, effect.action)
        } catch (error) {
          say((error as Error).message, true)
        }
    }
  }
  useInput(
    (input, key) => {
      for (const [oneInput, oneKey] of splitKeys(input, key as KeyInput)) {
        const result = reduceKey(uiRef.current, oneInput, oneKey, contextRef.current)
        uiRef.current = result.state
        setUi(result.state)
        for (const effect of result.effects) run(effect)
      }
    },
    { isActive: isRawModeSupported },
  )

  const live = snapshot.sim === null
  const nowMs = useNow(250, live && snapshot.sources.some((source) => source.connection.kind !== 'live'))
  const keyDetail = ui.detail?.kind === 'key' ? ui.detail.key : null
  const readings = useKeyReadings(
    model,
    keyDetail,
    snapshot.nodes.map((node) => node.id),
    snapshot.version,
  )

  const nodesLabel = snapshot.sources.length === 1 ? snapshot.sources[0]!.label : `${snapshot.sources.length} nodes`
  const label = snapshot.sim !== null ? `sim ${snapshot.sim.scenario} seed ${snapshot.sim.seed}` : contexts !== null && contexts.rows.length > 1 ? `ctx ${contexts.current} · ${nodesLabel}` : nodesLabel
  const title = ui.detail === null ? screenTitles[ui.screen] : `${screenTitles[ui.screen]} › ${ui.detail.kind === 'event' ? 'event' : ui.detail.kind === 'key' ? ui.detail.key : ui.detail.id}`
  const filter = ui.filters[ui.screen]
  const header = width < 50 ? `dwcp · ${title}` : `dwcp tui · ${label} · ${title}${filter === '' ? '' : ` · /${filter}`}`

  const body = (): ReactElement => {
    const area = { width, height: bodyHeight }
    if (ui.mode === 'help') return h(Help, area)
    const detail = ui.detail
    if (detail !== null) {
      switch (detail.kind) {
        case 'node':
          return h(NodeDetail, { ...area, snapshot, id: detail.id })
        case 'member':
          return h(MemberDetail, { ...area, snapshot, id: detail.id })
        case 'key':
          return h(KeyDetail, { ...area, snapshot, keyName: detail.key, readings })
        case 'event':
          return h(EventDetail, { ...area, event: detail.event })
      }
    }
    switch (ui.screen) {
      case 'overview':
        return h(Overview, { ...area, model: screenModel as ReturnType<typeof overviewModel>, cursor })
      case 'members':
        return h(Members, { ...area, snapshot, model: screenModel as ReturnType<typeof membersModel>, sort: ui.memberSort, cursor })
      case 'state':
        return h(State, { ...area, model: screenModel as ReturnType<typeof stateModel>, cursor })
      case 'convergence':
        return h(Convergence, { ...area, snapshot, model: screenModel as ReturnType<typeof convergenceModel>, cursor })
      case 'consensus':
        return h(Consensus, { ...area, model: screenModel as ReturnType<typeof consensusModel>, cursor })
      case 'contexts':
        return h(Contexts, { ...area, model: screenModel as ReturnType<typeof contextsModel>, cursor })
      case 'events':
        return h(Events, { ...area, model: screenModel as ReturnType<typeof eventsModel>, simulated: snapshot.sim !== null, paused: ui.eventsPaused, dropped: snapshot.eventsDropped, cursor })
    }
  }

  const footer =
    ui.mode === 'command'
      ? h(Text, { wrap: 'truncate' }, `:${ui.input}█`)
      : ui.mode === 'filter'
        ? h(Text, { wrap: 'truncate' }, `/${ui.input}█`)
        : ui.message !== null
          ? h(Text, { wrap: 'truncate', color: tone(ui.message.bad ? 'bad' : 'info') }, ui.message.text)
          : h(Text, { wrap: 'truncate', color: tone('dim') }, sim !== null ? '? help  :view  / filter  space play  . step  +/- speed  [ ] seek  q quit' : '? help  :view  / filter  Enter detail  Esc back  q quit')

  return h(
    Box,
    { flexDirection: 'column', width, height },
    h(Text, { wrap: 'truncate', bold: true, color: tone('accent') }, header),
    h(StatusBar, { snapshot, nowMs, width, readonly: props.readonly }),
    h(Box, { height: bodyHeight, flexDirection: 'column' }, body()),
    footer,
  )
}
