// Curve smoothing: an exponential moving average with bias correction (as TensorBoard's
// smoothing slider), so the first points are not dragged towards zero. Gaps (null, NaN)
// stay gaps and do not poison later points.

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
