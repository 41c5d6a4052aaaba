// The browser benchmark (bench.html): each method trains N steps on each backend this browser
// has, every run in a fresh training worker, as a visitor's page would start it. It reports the
// steady images/s (median over the steps after the warm-up), the time from the worker's
// creation to the end of the first step with the worker's timing of each part (script, wasm,
// dataset, session, first step; then the deferred baseline), and the wasm heap's peak. One JSON line per run, as `sslp bench` prints natively;
// `www/scripts/bench.mjs` runs it headless and prints the lines.
//
// URL settings (all optional): methods=simclr,dino (default: every method), backbone=small-cnn,
// backends=cpu,webgpu (default: the CPU, and WebGPU when the browser has an adapter; `cpu-1` is
// the CPU backend held to one thread, for a side-by-side with the threaded build; `cpu-base` is
// the CPU build as it was before SIMD and threads, where `SSLP_BASELINE=1 build-web.sh` built it),
// batch and width (default: the page's defaults), steps=10, warmup=2, dataset=fashion-mnist,
// conv=burn,im2col (how the CNN backbones convolve; default burn; each path is a run of its own).
//
// A soak: many steps (up to 20,000) with `max_growth=5` fail a run whose wasm heap or GPU
// buffers grew by more than 5 % from the end of the warm-up to the last step. Every line has the
// memory at both points and a timeline of about 20 samples, whatever `max_growth` says.
import type { AdapterInfo, Backend, ConvPath, FromWorker, MethodInfo, RunConfig, StartSpec, TimingPart, ToWorker } from './protocol';
import { CONV_PATHS, parseFromWorker } from './protocol';
import { softwareRenderer, adapterName } from './backend';
import { median } from './smooth';

/** One run's result: the JSON line. */
export interface BenchLine {
  kind: 'browser-bench';
  method: string;
  backbone: string;
  backend: Backend;
  /** How the CNN backbones convolved. */
  conv: ConvPath;
  /** CPU threads the run used (null on WebGPU), and why only one (empty when several). */
  threads: number | null;
  threads_reason: string | null;
  adapter: string | null;
  software_adapter: boolean;
  dataset: string;
  batch: number;
  width: number;
  steps: number;
  warmup: number;
  images_per_step: number | null;
  images_per_s_median: number | null;
  images_per_s_steps: number[];
  /** From the worker's creation to the end of step 1, as the page measures it. */
  first_step_ms: number | null;
  /** The worker's own timings of each part (ms). */
  parts: Partial<Record<TimingPart, number>>;
  /** When the page received the worker's hello and its ready (ms from the worker's creation). */
  page_ms: { hello: number | null; ready: number | null };
  peak_wasm_mib: number | null;
  /** The wasm heap and the live GPU buffers (null on the CPU) at the end of the warm-up and at the last step. */
  memory: { after_warmup: MemorySample | null; end: MemorySample | null; wasm_growth_pct: number | null; gpu_growth_pct: number | null };
  /** About 20 samples over the run: [step, wasm MiB, GPU MiB or null]. */
  memory_timeline: [number, number, number | null][];
  error: string | null;
}

export interface MemorySample {
  step: number;
  wasm_mib: number;
  gpu_mib: number | null;
}

export interface BenchSettings {
  methods: string[] | null;
  backbone: string;
  backends: BenchBackend[] | null;
  batch: number | null;
  width: number | null;
  steps: number;
  warmup: number;
  dataset: string;
  /** The convolution paths to measure, each a run of its own. */
  conv: ConvPath[];
  /** Fail a run whose memory grew by more than this many per cent after the warm-up. */
  maxGrowth: number | null;
}

/**
 * A backend to measure: WebGPU, the CPU on every thread the page may use, the CPU on one, or the
 * baseline CPU build (no SIMD, one thread: the speed issue 12's CPU path is measured against).
 */
export type BenchBackend = Backend | 'cpu-1' | 'cpu-base';
const BENCH_BACKENDS: readonly string[] = ['cpu', 'cpu-1', 'cpu-base', 'webgpu'];

const MIB = 1 << 20;
/** A run that has not finished after this long is reported as failed, and the next one starts. */
function runTimeoutMs(steps: number): number {
  return 15 * 60_000 + steps * 1000;
}

/** Read the settings from a query string; a bad value throws with its name. */
export function parseBenchSettings(query: string): BenchSettings {
  const p = new URLSearchParams(query);
  const list = (key: string) => (p.get(key) ? p.get(key)!.split(',').map((s) => s.trim()).filter(Boolean) : null);
  const int = (key: string, lo: number, hi: number, fallback: number | null) => {
    const raw = p.get(key);
    if (raw === null || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${key}=${raw}: expected a whole number from ${lo} to ${hi}`);
    return v;
  };
  const backends = list('backends');
  for (const b of backends ?? []) if (!BENCH_BACKENDS.includes(b)) throw new Error(`backends=${p.get('backends')}: each must be cpu, cpu-1, cpu-base or webgpu`);
  const steps = int('steps', 2, 20_000, 10)!;
  const warmup = int('warmup', 0, 5_000, 2)!;
  const growthRaw = p.get('max_growth');
  const maxGrowth = growthRaw === null || growthRaw === '' ? null : Number(growthRaw);
  if (maxGrowth !== null && !(Number.isFinite(maxGrowth) && maxGrowth >= 0)) throw new Error(`max_growth=${growthRaw}: expected a percentage of 0 or more`);
  if (warmup >= steps) throw new Error(`warmup=${warmup} leaves no steps to measure of steps=${steps}`);
  const conv = list('conv') ?? ['burn'];
  for (const c of conv) if (!(CONV_PATHS as readonly string[]).includes(c)) throw new Error(`conv=${p.get('conv')}: each must be burn or im2col`);
  return {
    methods: list('methods'),
    backbone: p.get('backbone') || 'small-cnn',
    backends: backends as BenchBackend[] | null,
    batch: int('batch', 1, 1024, null),
    width: int('width', 1, 256, null),
    steps,
    warmup,
    dataset: p.get('dataset') || 'fashion-mnist',
    conv: conv as ConvPath[],
    maxGrowth,
  };
}

/** How much `after` exceeds `before`, in per cent (1 decimal); null when either is missing. */
export function growthPct(before: number | null | undefined, after: number | null | undefined): number | null {
  if (before === null || before === undefined || after === null || after === undefined || before <= 0) return null;
  return Math.round(((after - before) / before) * 1000) / 10;
}

/** The memory verdict of a soak: a message naming what grew past `maxGrowth` %, or null. */
export function growthError(memory: BenchLine['memory'], maxGrowth: number | null): string | null {
  if (maxGrowth === null) return null;
  if (!memory.after_warmup || !memory.end) return 'no memory samples: the run ended before its warm-up did';
  const measured: [string, number | null][] = [
    ['the wasm heap', memory.wasm_growth_pct],
    ['the GPU buffers', memory.gpu_growth_pct],
  ];
  const grew = measured.filter(([, pct]) => pct !== null && pct > maxGrowth);
  if (grew.length === 0) return null;
  const from = memory.after_warmup.step;
  const to = memory.end.step;
  return grew.map(([what, pct]) => `${what} grew ${pct} % from step ${from} to step ${to} (limit ${maxGrowth} %)`).join('; ');
}

function spawn(): Worker {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
}

/** The worker's hello: the method list, the defaults and the adapter (in a throwaway worker). */
async function hello(): Promise<{ methods: MethodInfo[]; defaults: RunConfig; adapter: AdapterInfo | null }> {
  const w = spawn();
  try {
    return await new Promise((resolve, reject) => {
      w.onerror = (e) => reject(new Error(`the training worker failed to start (${e.message || 'script error'})`));
      w.onmessage = (e: MessageEvent) => {
        const msg = parseFromWorker(e.data);
        if (msg.type === 'hello') resolve({ methods: msg.methods, defaults: msg.defaults, adapter: msg.adapter });
        if (msg.type === 'error') reject(new Error(msg.message));
      };
    });
  } finally {
    w.terminate();
  }
}

/** Train one run in a fresh worker and measure it. */
function runOne(config: RunConfig, which: BenchBackend, conv: ConvPath, adapter: AdapterInfo | null, settings: BenchSettings): Promise<BenchLine> {
  const backend: Backend = which === 'webgpu' ? 'webgpu' : 'cpu';
  const line: BenchLine = {
    kind: 'browser-bench',
    method: config.method,
    backbone: config.backbone,
    backend,
    conv,
    threads: null,
    threads_reason: null,
    adapter: backend === 'webgpu' && adapter ? adapterName(adapter) : null,
    software_adapter: backend === 'webgpu' && adapter ? softwareRenderer(adapter) !== null : false,
    dataset: config.dataset,
    batch: config.batch_size,
    width: config.width,
    steps: config.steps,
    warmup: settings.warmup,
    images_per_step: null,
    images_per_s_median: null,
    images_per_s_steps: [],
    first_step_ms: null,
    parts: {},
    page_ms: { hello: null, ready: null },
    peak_wasm_mib: null,
    memory: { after_warmup: null, end: null, wasm_growth_pct: null, gpu_growth_pct: null },
    memory_timeline: [],
    error: null,
  };
  const mib = (bytes: number) => Math.round((bytes / MIB) * 100) / 100;
  const sampleEvery = Math.max(1, Math.round(config.steps / 20));
  const created = performance.now();
  const w = spawn();
  const send = (msg: ToWorker) => w.postMessage({ ...msg, runId: 1 });
  // As the page does where it will train on the CPU: the threaded build loads beside the set-up.
  send({ type: 'threadLimit', max: which === 'cpu' ? 0 : 1, baseline: which === 'cpu-base', preload: which === 'cpu' });
  send({ type: 'convPath', path: conv });
  return new Promise<BenchLine>((resolve) => {
    const finish = (error: string | null) => {
      clearTimeout(timer);
      line.images_per_s_median = median(line.images_per_s_steps.slice(settings.warmup));
      const m = line.memory;
      m.wasm_growth_pct = growthPct(m.after_warmup?.wasm_mib, m.end?.wasm_mib);
      m.gpu_growth_pct = growthPct(m.after_warmup?.gpu_mib, m.end?.gpu_mib);
      line.error = error ?? growthError(m, settings.maxGrowth);
      w.terminate();
      resolve(line);
    };
    const timeout = runTimeoutMs(config.steps);
    const timer = setTimeout(() => finish(`no result after ${Math.round(timeout / 60_000)} minutes`), timeout);
    w.onerror = (e) => finish(`the training worker failed (${e.message || 'script error'})`);
    w.onmessage = (e: MessageEvent) => {
      let msg: FromWorker;
      try {
        msg = parseFromWorker(e.data);
      } catch (err) {
        return finish(String(err));
      }
      switch (msg.type) {
        case 'hello': {
          line.page_ms.hello = Math.round(performance.now() - created);
          const spec: StartSpec = { config, dataUrl: new URL(`data/${config.dataset}.sslp.gz`, document.baseURI).href, backend, galleryCount: 0 };
          return send({ type: 'start', spec });
        }
        case 'cpuThreads':
          line.threads = msg.threads;
          line.threads_reason = msg.reason;
          return;
        case 'ready':
          line.page_ms.ready = Math.round(performance.now() - created);
          line.images_per_step = msg.info.images_per_step;
          return send({ type: 'train' });
        case 'timing':
          line.parts[msg.part] = Math.round(msg.ms);
          line.peak_wasm_mib = Math.round((msg.wasmBytes / MIB) * 10) / 10;
          if (msg.part === 'first step') line.first_step_ms = Math.round(performance.now() - created);
          return;
        case 'step': {
          line.images_per_s_steps.push(Math.round(msg.imagesPerS * 10) / 10);
          if (msg.wasmBytes === undefined) return;
          const sample: MemorySample = { step: msg.step, wasm_mib: mib(msg.wasmBytes), gpu_mib: msg.gpuBytes === null || msg.gpuBytes === undefined ? null : mib(msg.gpuBytes) };
          if (msg.step === Math.max(1, settings.warmup)) line.memory.after_warmup = sample;
          line.memory.end = sample;
          if (msg.step % sampleEvery === 0 || msg.step === 1) line.memory_timeline.push([sample.step, sample.wasm_mib, sample.gpu_mib]);
          return;
        }
        case 'state':
          if (msg.state === 'done') return finish(null);
          if (msg.state === 'failed') return finish('the run failed');
          return;
        case 'error':
          return finish(`${msg.kind}: ${msg.message}`);
        case 'deviceLost':
          return finish(`device lost: ${msg.message}`);
      }
    };
  });
}

/** Run the benchmark: `onLine` gets each run's line as it finishes. */
export async function runBench(settings: BenchSettings, onLine: (line: BenchLine) => void): Promise<BenchLine[]> {
  const { methods, defaults, adapter } = await hello();
  const known = methods.map((m) => m.id);
  const chosen = settings.methods ?? known;
  const unknown = chosen.filter((id) => !known.includes(id));
  if (unknown.length) throw new Error(`unknown method${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const backends = settings.backends ?? (adapter ? (['webgpu', 'cpu'] as BenchBackend[]) : (['cpu'] as BenchBackend[]));
  if (backends.includes('webgpu') && !adapter) throw new Error('backends=webgpu, but this browser offers no WebGPU adapter');
  const lines: BenchLine[] = [];
  for (const backend of backends) {
    for (const conv of settings.conv) for (const method of chosen) {
      const config: RunConfig = {
        ...defaults,
        method,
        params: {},
        dataset: settings.dataset,
        backbone: settings.backbone,
        batch_size: settings.batch ?? defaults.batch_size,
        width: settings.width ?? defaults.width,
        steps: settings.steps,
        // No evaluation between the timed steps (the session still evaluates after the last).
        eval_every: 0,
        // Semi-supervised methods need labels; the defaults' count is kept.
        train_limit: 1024,
        test_limit: 256,
      };
      const line = await runOne(config, backend, conv, adapter, settings);
      lines.push(line);
      onLine(line);
    }
  }
  return lines;
}
