// Curve smoothing: an exponential moving average with bias correction (as TensorBoard's
// smoothing slider), so the first points are not dragged towards zero. Gaps (null, NaN)
// stay gaps and do not poison later points. Also the median the benchmark and the backend
// probe take of their step times.

export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothing weight ${weight} must be in [0, 1)`);
  let avg = 0;
  let norm = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    avg = weight * avg + (1 - weight) * v;
    norm = weight * norm + (1 - weight);
    return avg / norm;
  });
}

/** The same average, one value at a time (for the live throughput readout). */
export class Ema {
  private avg = 0;
  private norm = 0;
  constructor(private readonly weight: number) {}
  push(v: number): number {
    if (Number.isFinite(v)) {
      this.avg = this.weight * this.avg + (1 - this.weight) * v;
      this.norm = this.weight * this.norm + (1 - this.weight);
    }
    return this.value;
  }
  get value(): number {
    return this.norm > 0 ? this.avg / this.norm : NaN;
  }
}

/** "1 h 05 min", "3 min 12 s", "42 s" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}

/** The median of `values` (the mean of the middle two for an even count); null when empty. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
