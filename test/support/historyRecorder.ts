/**
 * Writes a client history as it happens: one JSON line per operation event in
 * Jepsen's vocabulary (sim/checkers/jepsenHistory.ts writeHistoryLine), `time`
 * in nanoseconds on this process's monotonic clock from the recorder's start.
 * Lines go to the file at once, so a run that dies midway leaves what it saw.
 * Read it back with readHistoryLines, check it with checkLinearizable over
 * registerOpsOf, or with `dwcp check FILE`.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { historyLimits, writeHistoryLine, type HistoryEntry } from '../../sim/checkers/jepsenHistory.ts'

export class HistoryRecorder {
  readonly path: string
  private readonly fd: number
  private readonly startNs = process.hrtime.bigint()
  private lines = 0

  constructor(path: string) {
    this.path = path
    this.fd = openSync(path, 'w')
  }

  get entries(): number {
    return this.lines
  }

  /** Nanoseconds since the recorder started. */
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.startNs)
  }

  record(entry: Omit<HistoryEntry, 'time'>): void {
    if (this.lines >= historyLimits.entriesMax) throw new RangeError(`history ${this.path}: more than entriesMax=${historyLimits.entriesMax} entries`)
    writeSync(this.fd, writeHistoryLine({ ...entry, time: this.nowNs() }))
    this.lines++
  }

  close(): void {
    closeSync(this.fd)
  }
}
