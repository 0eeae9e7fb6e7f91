/** How values read on screen: short, fixed units, a dash for what is not known. */

/** Columns of node and member ids grow to the longest id on screen up to this many characters (`region-weur` is 11), then cut with …. */
export const idColumnCharsMax = 20

export function dash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value)
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-'
  if (ms < 10) return `${ms.toFixed(1)}ms`
  if (ms < 1000) return `${Math.round(ms)}ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
}

export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '-'
  return `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-'
  if (bytes < 1024) return `${bytes}B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)}K`
  return `${(bytes / 1024 / 1024).toFixed(1)}M`
}

/** Virtual or wall time as seconds with a tenth: `12.3s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

/** How long ago `thenMs` was from `nowMs`: `now`, `3s`, `2m`, `1h`. */
export function formatAgo(thenMs: number | null, nowMs: number): string {
  if (thenMs === null) return '-'
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000))
  if (seconds < 1) return 'now'
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  return `${Math.round(seconds / 3600)}h`
}

export function formatSpeed(speed: number): string {
  return `×${speed < 1 ? speed.toFixed(1) : speed >= 10 ? Math.round(speed) : speed.toFixed(speed % 1 === 0 ? 0 : 1)}`
}

/** `text` cut or padded to exactly `width` columns (an ellipsis marks a cut). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return ''
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`
  return align === 'right' ? text.padStart(width) : text.padEnd(width)
}
