// Live charts, drawn by uPlot: loss terms (raw, thin; smoothed, bold), ratios and accuracies
// in [0, 1] (FixMatch's mask_ratio, RotNet's rotation_acc…), and the kNN accuracy curve with
// the untrained backbone's kNN as a dashed reference line.
import uPlot from 'uplot';
import { smooth } from './smooth';

/** Chart height: in the compact layout (an iframe of about 900×600, or the element) two charts share the height. */
function chartHeight(host: HTMLElement): number {
  return host.closest('.embed') ? 165 : 180;
}

/** Steps are whole numbers: never put a tick at 2.5. */
const STEP_AXIS: uPlot.Axis = { label: 'step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000] };

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04'];

function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/** A TermChart's data: its steps and each series' raw values. */
export interface TermDump {
  steps: number[];
  raw: Record<string, (number | null)[]>;
}

/** A KnnChart's data. */
export interface KnnDump {
  steps: number[];
  layers: (number | null)[][];
  extra: (number | null)[];
  baseline: number | null;
}

/** One value of a named series at a step. */
export interface SeriesPoint {
  series: string;
  step: number;
  value: number;
}

/** A chart of named series over steps; raw points drawn faintly, smoothed ones bold. */
export class TermChart {
  private plot: uPlot;
  private steps: number[] = [];
  private raw = new Map<string, (number | null)[]>();
  private dirty = false;

  constructor(
    host: HTMLElement,
    private readonly names: string[],
    yLabel: string,
    private smoothing: number,
    range?: [number, number],
  ) {
    for (const n of names) this.raw.set(n, []);
    const series: uPlot.Series[] = [{ label: 'step' }];
    names.forEach((name, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({ label: `${name} (raw)`, stroke: alpha(color, 0.3), width: 1, points: { show: false } });
      series.push({ label: name, stroke: color, width: 2, points: { show: false } });
    });
    this.plot = new uPlot(
      {
        width: Math.max(240, host.clientWidth),
        height: chartHeight(host),
        series,
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: false }, y: range ? { range } : { auto: true } },
        axes: [STEP_AXIS, { label: yLabel, size: 52 }],
      },
      this.data(),
      host,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(240, host.clientWidth), height: chartHeight(host) })).observe(host);
  }

  private data(): uPlot.AlignedData {
    const cols: (number | null)[][] = [];
    for (const name of this.names) {
      const raw = this.raw.get(name)!;
      cols.push(raw, smooth(raw, this.smoothing));
    }
    return [this.steps, ...cols] as uPlot.AlignedData;
  }

  push(step: number, values: Record<string, number | null>) {
    this.steps.push(step);
    for (const name of this.names) this.raw.get(name)!.push(values[name] ?? null);
    this.dirty = true;
  }

  setSmoothing(weight: number) {
    this.smoothing = weight;
    this.dirty = true;
    this.redraw();
  }

  /** The chart's data, to keep with a saved run. */
  dump(): TermDump {
    return { steps: [...this.steps], raw: Object.fromEntries([...this.raw].map(([k, v]) => [k, [...v]])) };
  }

  /** Put a saved run's data back (series this chart does not have are ignored). */
  load(d: TermDump) {
    this.steps = [...d.steps];
    for (const name of this.names) this.raw.set(name, d.raw[name] ? [...d.raw[name]] : d.steps.map(() => null));
    this.dirty = true;
    this.redraw();
  }

  /** Every raw point, for the CSV export (gaps left out). */
  points(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (const name of this.names) {
      this.raw.get(name)!.forEach((value, i) => {
        if (value !== null) out.push({ series: name, step: this.steps[i], value });
      });
    }
    return out;
  }

  /** Redraw at most once per animation frame, however many steps arrived. */
  redraw() {
    if (!this.dirty) return;
    this.dirty = false;
    this.plot.setData(this.data());
  }

  /** Drop the points after `step` (a run resumed from an earlier snapshot). */
  truncateAfter(step: number) {
    const keep = this.steps.findIndex((s) => s > step);
    if (keep < 0) return;
    this.steps.length = keep;
    for (const raw of this.raw.values()) raw.length = keep;
    this.dirty = true;
    this.redraw();
  }

  destroy() {
    this.plot.destroy();
  }
}

/**
 * kNN accuracy (%) over steps: the final layer bold, every earlier backbone stage as a thin
 * line (pretext features are often best in a middle stage), the final layer's random-init
 * baseline dashed, and the method's own accuracy (classifier or pretext) if it has one.
 * Each layer's line starts at step 0 from its untrained value.
 */
export class KnnChart {
  private plot: uPlot;
  private steps: number[] = [];
  /** One column per layer, earlier stages first, the final layer last. */
  private layers: (number | null)[][];
  private extra: (number | null)[] = [];
  private baseline: number | null = null;
  private readonly layerNames: string[];

  constructor(host: HTMLElement, private readonly extraLabel: string | null, layerNames: string[]) {
    const names = layerNames.length ? layerNames : ['final'];
    this.layerNames = names;
    this.layers = names.map(() => []);
    const last = names.length - 1;
    const series: uPlot.Series[] = [
      { label: 'step' },
      ...names.map((name, i): uPlot.Series =>
        i === last
          ? { label: `kNN % (${name}, final)`, stroke: PALETTE[0], width: 2, points: { show: true, size: 6 } }
          : { label: `kNN % (${name})`, stroke: PALETTE[(i + 3) % PALETTE.length], width: 1, points: { show: true, size: 4 } },
      ),
      { label: 'untrained kNN % (final)', stroke: '#6b7280', width: 1.5, dash: [6, 4], points: { show: false } },
    ];
    if (extraLabel) series.push({ label: extraLabel, stroke: PALETTE[2], width: 2, points: { show: true, size: 6 } });
    this.plot = new uPlot(
      {
        width: Math.max(240, host.clientWidth),
        height: chartHeight(host),
        series,
        scales: { x: { time: false }, y: { auto: true } },
        axes: [STEP_AXIS, { label: '%', size: 44 }],
      },
      this.data(),
      host,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(240, host.clientWidth), height: chartHeight(host) })).observe(host);
  }

  private data(): uPlot.AlignedData {
    const base = this.steps.map(() => this.baseline);
    const cols: (number | null)[][] = [...this.layers, base];
    if (this.extraLabel) cols.push(this.extra);
    return [this.steps, ...cols] as uPlot.AlignedData;
  }

  /** The untrained model's kNN per layer (%), final layer last: the lines' step-0 points. */
  setBaseline(byLayerPercent: number[]) {
    this.baseline = byLayerPercent[byLayerPercent.length - 1] ?? null;
    if (this.steps.length === 0) {
      this.steps.push(0);
      this.pushLayers(byLayerPercent);
      this.extra.push(null);
    }
    this.plot.setData(this.data());
  }

  push(step: number, byLayerPercent: number[], extraPercent: number | null) {
    this.steps.push(step);
    this.pushLayers(byLayerPercent);
    this.extra.push(extraPercent);
    this.plot.setData(this.data());
  }

  /** One value per layer column; a report with fewer layers fills the earlier ones with gaps. */
  private pushLayers(values: number[]) {
    const offset = this.layers.length - values.length;
    this.layers.forEach((col, i) => col.push(i - offset >= 0 ? values[i - offset] : null));
  }

  dump(): KnnDump {
    return { steps: [...this.steps], layers: this.layers.map((l) => [...l]), extra: [...this.extra], baseline: this.baseline };
  }

  load(d: KnnDump) {
    this.steps = [...d.steps];
    this.layers = this.layers.map((_, i) => (d.layers[i] ? [...d.layers[i]] : d.steps.map(() => null)));
    this.extra = [...d.extra];
    this.baseline = d.baseline;
    this.plot.setData(this.data());
  }

  /** Every point (%), per layer (`kNN % (stage2)`) and the method's own accuracy, for the CSV export. */
  points(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    const columns: [string, (number | null)[]][] = this.layerNames.map((name, i) => [`kNN % (${name})`, this.layers[i]]);
    if (this.extraLabel) columns.push([this.extraLabel, this.extra]);
    for (const [series, values] of columns) {
      values.forEach((value, i) => {
        if (value !== null) out.push({ series, step: this.steps[i], value });
      });
    }
    return out;
  }

  truncateAfter(step: number) {
    const keep = this.steps.findIndex((s) => s > step);
    if (keep < 0) return;
    for (const col of [this.steps, this.extra, ...this.layers]) col.length = keep;
    this.plot.setData(this.data());
  }

  destroy() {
    this.plot.destroy();
  }
}

/** One run's line on the comparison chart. */
export interface CompareSeries {
  label: string;
  steps: number[];
  values: (number | null)[];
}

/** Several runs' curves on one chart: their steps merged, each run a colour, gaps where a run has no point. */
export class CompareChart {
  private plot: uPlot;

  constructor(host: HTMLElement, runs: CompareSeries[], yLabel: string) {
    const steps = [...new Set(runs.flatMap((r) => r.steps))].sort((a, b) => a - b);
    const columns = runs.map((r) => {
      const at = new Map(r.steps.map((step, i) => [step, r.values[i]]));
      return steps.map((step) => at.get(step) ?? null);
    });
    this.plot = new uPlot(
      {
        width: Math.max(240, host.clientWidth),
        height: chartHeight(host),
        series: [{ label: 'step' }, ...runs.map((r, i): uPlot.Series => ({ label: r.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { show: true, size: 5 } }))],
        scales: { x: { time: false }, y: { auto: true } },
        axes: [STEP_AXIS, { label: yLabel, size: 52 }],
      },
      [steps, ...columns] as uPlot.AlignedData,
      host,
    );
  }

  destroy() {
    this.plot.destroy();
  }
}
