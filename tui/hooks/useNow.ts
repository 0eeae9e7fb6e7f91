/** Wall clock now, ticking every `intervalMs` while `active` (for "retry in …" countdowns). */
import { useEffect, useState } from 'react'

export function useNow(intervalMs: number, active: boolean, now: () => number = Date.now): number {
  const [nowMs, setNowMs] = useState(now)
  useEffect(() => {
    if (!active) return
    const timer = setInterval(() => setNowMs(now()), intervalMs)
    timer.unref?.()
    return () => clearInterval(timer)
  }, [intervalMs, active, now])
  return active ? nowMs : now()
}
