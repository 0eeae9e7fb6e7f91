/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: it parses
 * an exposition and lists what promtool's `check metrics` would complain
 * about, and a little more: HELP and TYPE before every family's samples, once
 * each; counters ending in `_total`; base units only; well-formed names,
 * labels and values; no series twice; histograms with ascending, cumulative
 * buckets ending in +Inf that equals `_count`.
 */
export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface PromFamily {
  readonly name: string
  type: string | null
  help: string | null
  readonly samples: PromSample[]
}

export interface PromExposition {
  readonly families: Map<string, PromFamily>
  readonly problems: string[]
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
/** Units promtool refuses in names: use seconds and bytes. */
const nonBaseUnits = /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|us|ns|bits|kilobytes|megabytes|kibibytes|mebibytes|percent)(_|$)/

function parseLabels(text: string, problems: string[], line: number): Record<string, string> {
  const labels: Record<string, string> = {}
  let index = 0
  while (index < text.length) {
    const eq = text.indexOf('=', index)
    if (eq < 0 || text[eq + 1] !== '"') {
      problems.push(`line ${line}: bad label syntax in {${text}}`)
      return labels
    }
    const name = text.slice(index, eq)
    if (!labelName.test(name)) problems.push(`line ${line}: bad label name ${name}`)
    let value = ''
    let at = eq + 2
    for (; at < text.length && text[at] !== '"'; at++) {
      if (text[at] === '\\') {
        const next = text[++at]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else problems.push(`line ${line}: bad escape \\${next}`)
      } else value += text[at]
    }
    if (at >= text.length) {
      problems.push(`line ${line}: unterminated label value`)
      return labels
    }
    if (name in labels) problems.push(`line ${line}: label ${name} twice`)
    labels[name] = value
    index = at + 1
    if (text[index] === ',') index++
    else if (index < text.length) {
      problems.push(`line ${line}: expected , after label ${name}`)
      return labels
    }
  }
  return labels
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : NaN
}

/** The family a sample belongs to: histograms' _bucket, _sum, _count belong to their base name. */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(name)
  if (direct !== undefined) return direct
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const base = families.get(name.slice(0, -suffix.length))
    if (base !== undefined && (base.type === 'histogram' || base.type === 'summary')) return base
  }
  return undefined
}

export function parsePrometheusText(text: string): PromExposition {
  const families = new Map<string, PromFamily>()
  const problems: string[] = []
  const seriesSeen = new Set<string>()
  const done = new Set<string>()
  let current: PromFamily | null = null
  if (!text.endsWith('\n')) problems.push('the exposition must end with a newline')
  const lines = text.split('\n')
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw === '') return
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw)
      if (match === null) return // a comment
      const [, what, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string]
      if (!metricName.test(name)) problems.push(`line ${line}: bad metric name ${name}`)
      let family = families.get(name)
      if (family === undefined) {
        if (done.has(name)) problems.push(`line ${line}: family ${name} is split`)
        family = { name, type: null, help: null, samples: [] }
        families.set(name, family)
      } else if (family.samples.length > 0) problems.push(`line ${line}: ${what} of ${name} after its samples`)
      if (current !== null && current !== family) done.add(current.name)
      current = family
      if (what === 'HELP') {
        if (family.help !== null) problems.push(`line ${line}: second HELP of ${name}`)
        family.help = rest
        if (rest.trim() === '') problems.push(`line ${line}: empty HELP of ${name}`)
      } else {
        if (family.type !== null) problems.push(`line ${line}: second TYPE of ${name}`)
        if (!types.has(rest)) problems.push(`line ${line}: unknown type ${rest}`)
        family.type = rest
      }
      return
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(raw)
    if (match === null) {
      problems.push(`line ${line}: not a sample: ${raw}`)
      return
    }
    const [, name, , labelText, valueText] = match as unknown as [string, string, string | undefined, string | undefined, string]
    const labels = labelText === undefined || labelText === '' ? {} : parseLabels(labelText, problems, line)
    const value = parseValue(valueText)
    if (Number.isNaN(value) && valueText !== 'NaN') problems.push(`line ${line}: bad value ${valueText}`)
    const family = familyOf(name, families)
    if (family === undefined || family.type === null || family.help === null) {
      problems.push(`line ${line}: sample ${name} without HELP and TYPE before it`)
      return
    }
    if (current !== family) problems.push(`line ${line}: sample ${name} outside its family's block`)
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seriesSeen.has(series)) problems.push(`line ${line}: series ${series} twice`)
    seriesSeen.add(series)
    family.samples.push({ name, labels, value })
  })
  for (const family of families.values()) {
    if (family.type === null) problems.push(`family ${family.name} has no TYPE`)
    if (family.help === null) problems.push(`family ${family.name} has no HELP`)
    if (family.type === 'counter' && !family.name.endsWith('_total')) problems.push(`counter ${family.name} does not end in _total`)
    if (family.type !== 'counter' && family.name.endsWith('_total')) problems.push(`${family.type} ${family.name} ends in _total`)
    if (nonBaseUnits.test(family.name)) problems.push(`${family.name} is not in base units (seconds, bytes)`)
    if (family.type === 'counter') for (const sample of family.samples) if (sample.value < 0) problems.push(`counter ${sample.name} is negative`)
    if (family.type === 'histogram') problems.push(...histogramProblems(family))
  }
  return { families, problems }
}

function histogramProblems(family: PromFamily): string[] {
  const problems: string[] = []
  const bySeries = new Map<string, { buckets: { le: number; value: number }[]; count: number | null; sum: number | null }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const series = bySeries.get(key) ?? { buckets: [], count: null, sum: null }
    bySeries.set(key, series)
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) problems.push(`${sample.name} without le`)
      else series.buckets.push({ le: parseValue(le), value: sample.value })
    } else if (sample.name.endsWith('_count')) series.count = sample.value
    else if (sample.name.endsWith('_sum')) series.sum = sample.value
    else problems.push(`histogram ${family.name} has a plain sample ${sample.name}`)
  }
  for (const [key, series] of bySeries) {
    const last = series.buckets.at(-1)
    if (last === undefined || last.le !== Infinity) problems.push(`histogram ${family.name}${key} does not end with le="+Inf"`)
    for (let index = 1; index < series.buckets.length; index++) {
      if (!(series.buckets[index]!.le > series.buckets[index - 1]!.le)) problems.push(`histogram ${family.name}${key}: le not ascending`)
      if (series.buckets[index]!.value < series.buckets[index - 1]!.value) problems.push(`histogram ${family.name}${key}: buckets not cumulative`)
    }
    if (series.count === null || series.sum === null) problems.push(`histogram ${family.name}${key} lacks _count or _sum`)
    else if (last !== undefined && last.value !== series.count) problems.push(`histogram ${family.name}${key}: +Inf bucket ${last.value} differs from _count ${series.count}`)
  }
  return problems
}
