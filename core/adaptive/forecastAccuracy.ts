/**
 * How good the link estimator's round-trip forecast is: each answered probe
 * is compared with the one-step forecast made before it was recorded, and the
 * running sum gives the mean absolute percentage error (MAPE). A forecast
 * nobody checks could drift into nonsense unnoticed; this puts a number on it.
 */

export interface ForecastStats {
  /** Forecasts checked: answered probes with a forecast before them and a round trip above 0. */
  readonly samples: number
  /** Mean of |forecast - actual| / actual over those samples; null before any. */
  readonly mape: number | null
}

export class ForecastAccuracy {
  private samples = 0
  private absolutePercentageErrorSum = 0

  /** One forecast against the round trip that came; a 0 ms round trip has no percentage error and is skipped. */
  record(forecastRttMs: number, actualRttMs: number): void {
    if (!(actualRttMs > 0)) return
    this.samples++
    this.absolutePercentageErrorSum += Math.abs(forecastRttMs - actualRttMs) / actualRttMs
  }

  stats(): ForecastStats {
    return statsOf(this.samples, this.absolutePercentageErrorSum)
  }

  /** Adds this link's sums into a total over links. */
  addTo(total: { samples: number; absolutePercentageErrorSum: number }): void {
    total.samples += this.samples
    total.absolutePercentageErrorSum += this.absolutePercentageErrorSum
  }
}

export function statsOf(samples: number, absolutePercentageErrorSum: number): ForecastStats {
  return { samples, mape: samples === 0 ? null : absolutePercentageErrorSum / samples }
}
