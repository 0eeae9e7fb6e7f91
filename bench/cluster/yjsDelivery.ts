/**
 * Yjs: updates/s and delivery latency between two stock y-websocket 3
 * clients. A writer appends small text updates (`<seq>,` at the end of a
 * Y.Text, one update and so one y-websocket message each); a reader on
 * `readerUrl` (another node, or the same reference server) observes the text
 * and notes when each sequence number arrives. The writer keeps at most
 * `window` updates sent and not yet seen by the reader: the pace is set by
 * delivery, end to end, whatever the server in between does (the reference
 * server echoes every update to its sender, DWCP's node does not, so an echo
 * cannot pace both). Updates/s: arrivals at the reader within the measured
 * time; latency: send to arrival, per update.
 */
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { percentile, round } from '../report.ts'

export const yjsLimits = {
  /** Both clients synced within this. */
  syncTimeoutMs: 15_000,
  /** No arrival for this long while updates are outstanding: the run stops and says so. */
  stallMs: 5_000,
  /** After the sending stops, outstanding updates may arrive within this (their latency still counts). */
  drainMs: 2_000,
  /** Latency samples kept at most; later arrivals are counted but not timed. */
  latencySamplesMax: 1_000_000,
} as const

export interface YjsDeliveryOptions {
  /** y-websocket server URLs: the provider connects to `${url}/${room}`. */
  readonly writerUrl: string
  readonly readerUrl: string
  readonly room: string
  /** Updates sent and not yet seen by the reader, at most. */
  readonly window: number
  readonly durationMs: number
  readonly warmupMs: number
}

export interface YjsDeliveryResult {
  readonly updatesPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly updates: number
  /** Why the run stopped early, when it did. */
  readonly stalled?: string
}

const clientOptions = { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true }

async function until(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`yjs bench: ${what} not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export async function yjsDelivery(options: YjsDeliveryOptions): Promise<YjsDeliveryResult> {
  const writerDoc = new Y.Doc()
  const readerDoc = new Y.Doc()
  const writer = new WebsocketProvider(options.writerUrl, options.room, writerDoc, clientOptions)
  const reader = new WebsocketProvider(options.readerUrl, options.room, readerDoc, clientOptions)
  try {
    await until('both clients synced', () => writer.synced && reader.synced, yjsLimits.syncTimeoutMs)
    const sentAtMs: number[] = []
    const latenciesMs: number[] = []
    let delivered = 0
    let countedArrivals = 0
    let wake: (() => void) | null = null
    const started = performance.now()
    const countFrom = started + options.warmupMs
    const endAt = countFrom + options.durationMs
    readerDoc.getText('bench').observe((event) => {
      const now = performance.now()
      for (const op of event.delta) {
        if (typeof op.insert !== 'string') continue
        for (const part of op.insert.split(',')) {
          if (part === '') continue
          const seq = Number(part)
          delivered++
          if (now >= countFrom && now <= endAt) countedArrivals++
          if (sentAtMs[seq]! >= countFrom && latenciesMs.length < yjsLimits.latencySamplesMax) latenciesMs.push(now - sentAtMs[seq]!)
        }
      }
      wake?.()
    })
    const text = writerDoc.getText('bench')
    let sent = 0
    let stalled: string | undefined
    const nextArrival = () =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), yjsLimits.stallMs)
        wake = () => {
          clearTimeout(timer)
          wake = null
          resolve(true)
        }
      })
    while (performance.now() < endAt) {
      while (sent - delivered < options.window) {
        sentAtMs[sent] = performance.now()
        text.insert(text.length, `${sent},`)
        sent++
      }
      if (!(await nextArrival())) {
        stalled = `no update reached the reader for ${yjsLimits.stallMs} ms (${sent - delivered} outstanding)`
        break
      }
    }
    const drainUntil = performance.now() + yjsLimits.drainMs
    while (stalled === undefined && delivered < sent && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 10))
    const elapsedMs = Math.min(performance.now(), endAt) - countFrom
    latenciesMs.sort((a, b) => a - b)
    return {
      updatesPerSecond: Math.round((countedArrivals / Math.max(1, elapsedMs)) * 1000),
      p50Ms: round(percentile(latenciesMs, 0.5)),
      p99Ms: round(percentile(latenciesMs, 0.99)),
      updates: countedArrivals,
      ...(stalled === undefined ? {} : { stalled }),
    }
  } finally {
    writer.destroy()
    reader.destroy()
    writerDoc.destroy()
    readerDoc.destroy()
  }
}
