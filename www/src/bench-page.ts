// bench.html's page: reads the settings from the link, runs the benchmark (bench.ts) and shows
// each run as a table row and as a JSON line. `window.__sslpBench` holds the lines for the
// headless script (www/scripts/bench.mjs).
import { parseBenchSettings, runBench, type BenchLine } from './bench';

interface BenchState {
  lines: BenchLine[];
  done: boolean;
  error: string | null;
}
const state: BenchState = { lines: [], done: false, error: null };
(window as unknown as { __sslpBench: BenchState }).__sslpBench = state;

const $ = (id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`bench page is missing #${id}`);
  return el;
};

const fixed = (v: number | null | undefined, digits = 0) => (v === null || v === undefined ? '–' : v.toFixed(digits));

/** Heap (and GPU buffers) after the warm-up → at the last step, with the growth. */
function memoryCell(line: BenchLine): string {
  const { after_warmup: a, end: e, wasm_growth_pct: wg, gpu_growth_pct: gg } = line.memory;
  if (!a || !e) return '–';
  const heap = `heap ${a.wasm_mib.toFixed(1)} → ${e.wasm_mib.toFixed(1)} (${wg ?? 0} %)`;
  return a.gpu_mib === null || e.gpu_mib === null ? heap : `${heap}; GPU ${a.gpu_mib.toFixed(1)} → ${e.gpu_mib.toFixed(1)} (${gg ?? 0} %)`;
}

function addRow(line: BenchLine) {
  const row = document.createElement('tr');
  const cells = [
    line.method,
    line.backbone,
    line.backend === 'webgpu' ? `WebGPU (${line.adapter ?? '?'}${line.software_adapter ? ', software' : ''})` : `CPU (wasm, ${line.threads ?? '?'} thread${line.threads === 1 ? '' : 's'})`,
    `${line.batch} / ${line.width}${line.conv === 'burn' ? '' : ` · ${line.conv}`}`,
    fixed(line.images_per_s_median, 1),
    fixed(line.first_step_ms),
    ['script', 'wasm', 'dataset', 'session', 'first step', 'baseline'].map((p) => fixed(line.parts[p as keyof typeof line.parts])).join(' / '),
    fixed(line.peak_wasm_mib, 1),
    memoryCell(line),
    line.error ?? '',
  ];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    row.append(td);
  }
  if (line.error) row.className = 'failed';
  $('rows').append(row);
  $('lines').textContent += `${JSON.stringify(line)}\n`;
}

async function main() {
  let settings;
  try {
    settings = parseBenchSettings(location.search);
  } catch (e) {
    state.error = (e as Error).message;
    $('status').textContent = `Cannot run: ${state.error}.`;
    state.done = true;
    return;
  }
  $('status').textContent = 'Running… each method trains in a fresh worker, one run at a time.';
  try {
    await runBench(settings, (line) => {
      state.lines.push(line);
      addRow(line);
      $('status').textContent = `Running… ${state.lines.length} run${state.lines.length === 1 ? '' : 's'} done.`;
    });
    const failed = state.lines.filter((l) => l.error).length;
    $('status').textContent = `Done: ${state.lines.length} runs${failed ? `, ${failed} failed` : ''}. ${navigator.userAgent}`;
  } catch (e) {
    state.error = (e as Error).message;
    $('status').textContent = `The benchmark stopped: ${state.error}.`;
  }
  state.done = true;
}

void main();
