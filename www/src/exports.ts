// Files the page hands to the user: the run's curves as CSV and its configuration as JSON.
// Everything is made here, in the tab, and saved through a download: nothing is uploaded.
import type { SeriesPoint } from './charts';

/** One chart's points under its name (`loss`, `ratio`, `knn`, `collapse`). */
export interface ChartPoints {
  chart: string;
  points: SeriesPoint[];
}

/** A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function field(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Long-format CSV, a row per point: `chart,series,step,value`. Sorted by chart, then step. */
export function curvesCsv(charts: ChartPoints[]): string {
  const lines = ['chart,series,step,value'];
  for (const { chart, points } of charts) {
    const sorted = [...points].sort((a, b) => a.step - b.step || a.series.localeCompare(b.series));
    for (const p of sorted) lines.push([field(chart), field(p.series), String(p.step), String(p.value)].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Save `data` as a file called `name` through the browser's download. */
export function download(data: BlobPart, name: string, type: string) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
