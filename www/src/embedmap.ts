// The embedding map: the test images' features projected to 2-D by PCA (Rust `eval::pca_2d`)
// at every evaluation, drawn as points coloured by class. Hovering a point shows its image;
// clicking it asks for its nearest neighbours, as a click in the gallery does. Between
// evaluations the points glide from the old map to the new one, so a learner sees the
// clusters form.
//
// A principal axis has no sign (v and −v explain the same variance), so a new map may come
// mirrored against the last one; it is flipped back to the orientation that moves the points
// least before it is drawn.

/** How long the points take to glide to a new map. */
const GLIDE_MS = 700;
/** Hover and click pick the nearest point within this many CSS pixels. */
const PICK_RADIUS = 8;

/**
 * Flip the axes of `next` (`[x0, y0, x1, y1, …]`) whose sign disagrees with `prev`: an axis is
 * flipped when its dot product with the same axis of `prev` is negative. Returns a new array.
 */
export function alignAxes(prev: ArrayLike<number> | null, next: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(next);
  if (!prev || prev.length !== next.length) return out;
  for (const axis of [0, 1]) {
    let dot = 0;
    for (let i = axis; i < next.length; i += 2) dot += prev[i] * next[i];
    if (dot < 0) for (let i = axis; i < out.length; i += 2) out[i] = -out[i];
  }
  return out;
}

/**
 * Scale `xy` into the square [−1, 1]² around its centre, keeping its aspect (one scale for
 * both axes). A map of identical points (a collapsed embedding) sits at the origin.
 */
export function fitToSquare(xy: ArrayLike<number>): Float32Array {
  const n = xy.length / 2;
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const [x, y] = [xy[2 * i], xy[2 * i + 1]];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const out = new Float32Array(xy.length);
  if (!Number.isFinite(minX)) return out;
  const [cx, cy] = [(minX + maxX) / 2, (minY + maxY) / 2];
  const half = Math.max(maxX - minX, maxY - minY) / 2;
  const scale = half > 0 ? 1 / half : 0;
  for (let i = 0; i < n; i++) {
    out[2 * i] = Number.isFinite(xy[2 * i]) ? (xy[2 * i] - cx) * scale : 0;
    out[2 * i + 1] = Number.isFinite(xy[2 * i + 1]) ? (xy[2 * i + 1] - cy) * scale : 0;
  }
  return out;
}

/** A distinct colour per class: ten fixed ones, then hues spread around the circle. */
export function classColour(label: number): string {
  const fixed = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  if (label < fixed.length) return fixed[label];
  return `hsl(${(label * 137.508) % 360} 65% 45%)`;
}

/** The index of the point of `xy` (canvas pixels) nearest (x, y) within `radius`, or −1. */
export function nearestPoint(xy: ArrayLike<number>, x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < xy.length / 2; i++) {
    const d = (xy[2 * i] - x) ** 2 + (xy[2 * i + 1] - y) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

export interface MapPoint {
  /** Test image index. */
  index: number;
  label: number;
}

/** The map's canvas, its animation and its pointer handling. */
export class EmbeddingMapView {
  private shown: Float32Array | null = null; // in [−1, 1]², what is on screen
  private raw: Float32Array | null = null; // the last map as it came, axes aligned
  private labels: Uint8Array = new Uint8Array();
  private frame = 0;
  /** The points in canvas pixels, as last drawn (for picking). */
  private pixels = new Float32Array();
  private hovered = -1;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onHover: (point: MapPoint | null, x: number, y: number) => void,
    private readonly onPick: (point: MapPoint) => void,
  ) {
    canvas.addEventListener('pointermove', (e) => this.hover(e.offsetX, e.offsetY));
    canvas.addEventListener('pointerleave', () => this.hover(-1e9, -1e9));
    canvas.addEventListener('click', (e) => {
      const k = this.scale();
      const i = nearestPoint(this.pixels, e.offsetX * k, e.offsetY * k, PICK_RADIUS * k);
      if (i >= 0) this.onPick({ index: i, label: this.labels[i] });
    });
  }

  /** Forget the run's map (a new run starts). */
  clear() {
    cancelAnimationFrame(this.frame);
    this.shown = this.raw = null;
    this.labels = new Uint8Array();
    this.pixels = new Float32Array();
    this.hovered = -1;
    this.canvas.getContext('2d')?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Show a new map: `xy` `[x0, y0, …]` of test images 0…n−1, `labels` theirs (kept from the first map when null). */
  update(xy: Float32Array, labels: Uint8Array | null) {
    if (labels) this.labels = labels;
    const aligned = alignAxes(this.raw, xy);
    this.raw = aligned;
    const target = fitToSquare(aligned);
    const from = this.shown && this.shown.length === target.length ? this.shown : target;
    cancelAnimationFrame(this.frame);
    const start = performance.now();
    const tick = (now: number) => {
      const t = Math.min(1, (now - start) / GLIDE_MS);
      const ease = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
      const current = new Float32Array(target.length);
      for (let i = 0; i < target.length; i++) current[i] = from[i] + (target[i] - from[i]) * ease;
      this.shown = current;
      this.draw();
      if (t < 1) this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  private draw() {
    const shown = this.shown;
    const ctx = this.canvas.getContext('2d');
    if (!shown || !ctx) return;
    const { width, height } = this.canvas;
    const pad = 8;
    const half = (Math.min(width, height) - 2 * pad) / 2;
    const pixels = new Float32Array(shown.length);
    ctx.clearRect(0, 0, width, height);
    for (let i = 0; i < shown.length / 2; i++) {
      const x = width / 2 + shown[2 * i] * half;
      const y = height / 2 - shown[2 * i + 1] * half;
      pixels[2 * i] = x;
      pixels[2 * i + 1] = y;
      ctx.fillStyle = classColour(this.labels[i] ?? 0);
      ctx.globalAlpha = i === this.hovered ? 1 : 0.75;
      ctx.beginPath();
      ctx.arc(x, y, i === this.hovered ? 5 : 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    this.pixels = pixels;
  }

  /** Canvas pixels per CSS pixel (the canvas shrinks in narrow layouts). */
  private scale(): number {
    return this.canvas.clientWidth > 0 ? this.canvas.width / this.canvas.clientWidth : 1;
  }

  /** `x`, `y` in CSS pixels from the canvas's corner. */
  private hover(x: number, y: number) {
    const k = this.scale();
    const i = nearestPoint(this.pixels, x * k, y * k, PICK_RADIUS * k);
    if (i !== this.hovered) {
      this.hovered = i;
      this.draw();
    }
    this.onHover(i >= 0 ? { index: i, label: this.labels[i] } : null, x, y);
  }

  /** Point `i`'s position in CSS pixels from the canvas's corner, as last drawn. */
  pointAt(i: number): [number, number] | null {
    const k = this.scale();
    return 2 * i + 1 < this.pixels.length ? [this.pixels[2 * i] / k, this.pixels[2 * i + 1] / k] : null;
  }

  /** Points on the map now. */
  get size(): number {
    return this.labels.length;
  }
}
