// Which backend the page trains on, and the one line that says why (issue 12, part 1).
//
// A WebGPU adapter is not always a GPU: SwiftShader (Chromium's fallback), llvmpipe/lavapipe
// (Mesa) and WARP (Windows) run every shader on the CPU. Measured on a 2-core machine with
// SwiftShader (batch 16, width 8): 12 images/s on WebGPU against 334 on the CPU backend in
// WebAssembly, and the first step 18 s against 1.9 s after the page opened. So a software
// adapter is passed over for the CPU backend unless the link asks for it (`backend=webgpu`).
//
// An adapter that looks like a GPU is measured: the worker times a few steps of a small run on
// each backend (`probe`), and the CPU backend wins only when it is clearly faster (a weak
// integrated GPU against a fast CPU). WebGPU loses at once if its set-up and first step run
// past a deadline: that is what a software adapter under an unknown name looks like. `probe=1`
// in the link measures any adapter, software ones included. The verdict is kept per adapter in
// localStorage for a week, so a page opened again starts at once.
import type { AdapterInfo, Backend, ProbeResult, ProbeTiming, RunConfig } from './protocol';

export interface BackendChoice {
  backend: Backend;
  /** One line for the page's badge: the backend and why. */
  badge: string;
  /** The badge's tooltip: more of why, and how to choose otherwise. */
  detail: string;
  /** A longer message for the notice bar, when the user should act on it. */
  notice: string | null;
}

/** Names of adapters that run on the CPU, as they appear in vendor, architecture or description. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** The software renderer behind `adapter` (`SwiftShader`, `llvmpipe`, …), or null for a GPU. */
export function softwareRenderer(adapter: AdapterInfo): string | null {
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.description}`;
  const named = SOFTWARE.exec(text);
  if (named) return named[0];
  return adapter.isFallbackAdapter ? 'a fallback adapter' : null;
}

export function adapterName(adapter: AdapterInfo): string {
  return [adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'GPU';
}

/**
 * The backend for a run: `forced` is the link's `backend=` (null when absent), `adapter` the
 * WebGPU adapter the worker found (null when none), `webgpuError` why there is none.
 */
export function chooseBackend(adapter: AdapterInfo | null, forced: Backend | null, webgpuError: string | null, probe: ProbeResult | null = null): BackendChoice {
  if (forced === 'cpu') return { backend: 'cpu', badge: 'CPU backend (chosen in the link)', detail: 'The link has backend=cpu; without it the page uses a GPU when the browser offers one.', notice: null };
  if (!adapter) {
    const asked = forced === 'webgpu' ? 'The link asks for WebGPU, but it' : 'WebGPU';
    return {
      backend: 'cpu',
      badge: 'CPU backend (no WebGPU)',
      detail: webgpuError ?? 'WebGPU is not available in this browser.',
      notice: `${asked} is not available here (${webgpuError ?? 'unknown reason'}), so training runs on the CPU backend in WebAssembly. It works, only slower; try a recent Chrome or Edge for the GPU.`,
    };
  }
  if (probe && forced !== 'webgpu') return chooseByProbe(adapter, probe);
  const software = softwareRenderer(adapter);
  if (software && forced !== 'webgpu') {
    return {
      backend: 'cpu',
      badge: `CPU backend (WebGPU here is software: ${software})`,
      detail: `This browser's WebGPU adapter (${adapterName(adapter)}) runs its shaders on the CPU, which is slower than the CPU backend. backend=webgpu in the link trains on it anyway.`,
      notice: null,
    };
  }
  const notes = [software ? 'software' : '', forced === 'webgpu' ? 'chosen in the link' : ''].filter(Boolean).join(', ');
  return {
    backend: 'webgpu',
    badge: `WebGPU · ${adapterName(adapter)}${notes ? ` (${notes})` : ''}`,
    detail: software ? `A software adapter (${software}): slower than the CPU backend; the link asked for it.` : 'Training runs on this GPU through WebGPU.',
    notice: null,
  };
}

/** The probe's WebGPU set-up and first step may take this long (device, upload, shader compiles); past it, the CPU wins. */
export const PROBE_FIRST_STEP_DEADLINE_MS = 5000;
/** Timed steps per backend after the untimed first one: at most this many… */
export const PROBE_STEPS = 3;
/** …and no more once this much time has gone on them (at least one is timed). */
export const PROBE_TIMED_BUDGET_MS = 300;
/**
 * The CPU backend wins only when its steps are this much faster: a GPU gains more than the CPU
 * from the run's larger batch and width, which the probe does not train at.
 */
export const CPU_WINS_BY = 1.2;

/**
 * Whether the page should probe before its first run: an adapter that looks like a GPU and a
 * link that does not choose, or `probe=1`, which measures any adapter unless the link chooses.
 */
export function shouldProbe(adapter: AdapterInfo | null, forced: Backend | null, asked: boolean): boolean {
  if (!adapter || forced) return false;
  return asked || softwareRenderer(adapter) === null;
}

/**
 * The probe's run: the link's method and backbone on a bundled dataset, batch 16 and width at
 * most 16, so that a step on the CPU takes a fraction of a second. No evaluation.
 */
export function probeConfig(config: RunConfig, bundledDataset: string): RunConfig {
  return { ...structuredClone(config), dataset: bundledDataset, batch_size: Math.min(config.batch_size, 16), width: Math.min(config.width, 16), steps: 1000, eval_every: 0, train_limit: 512, test_limit: 256 };
}

const ms = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

/** What the probe trained, for tooltips. */
function probeSummary(p: ProbeResult): string {
  const each = p.timings.map((t) => `${t.backend === 'webgpu' ? 'WebGPU' : 'CPU'}: ${t.msPerStep !== null ? `${ms(t.msPerStep)} a step (median of ${t.steps}), set-up and first step ${ms(t.firstStepMs ?? 0)}` : (t.error ?? 'not measured')}`);
  return `Probe: ${p.method} on ${p.backbone} width ${p.width}, batch ${p.batch}, in ${(p.ms / 1000).toFixed(1)} s. ${each.join('; ')}. backend=webgpu or backend=cpu in the link chooses; probe=1 measures again.`;
}

/** The backend the probe's figures choose, and the line that says why. */
export function chooseByProbe(adapter: AdapterInfo, probe: ProbeResult): BackendChoice {
  const find = (b: Backend): ProbeTiming | undefined => probe.timings.find((t) => t.backend === b);
  const gpu = find('webgpu');
  const cpu = find('cpu');
  const detail = probeSummary(probe);
  const name = adapterName(adapter);
  if (!gpu || gpu.msPerStep === null) {
    const why = gpu?.timedOut ? `WebGPU took over ${probe.deadlineMs / 1000} s to its first step` : 'WebGPU failed a probe step';
    return { backend: 'cpu', badge: `CPU backend (${why})`, detail: `${name}: ${gpu?.error ?? 'no figure'}. ${detail}`, notice: null };
  }
  if (!cpu || cpu.msPerStep === null) {
    return { backend: 'webgpu', badge: `WebGPU · ${name} (the CPU backend failed its probe)`, detail, notice: null };
  }
  if (cpu.msPerStep * CPU_WINS_BY < gpu.msPerStep) {
    return { backend: 'cpu', badge: `CPU backend (measured faster: ${ms(cpu.msPerStep)} a step against ${ms(gpu.msPerStep)} on WebGPU)`, detail: `${name} was slower than the CPU backend in WebAssembly. ${detail}`, notice: null };
  }
  return { backend: 'webgpu', badge: `WebGPU · ${name} (measured: ${ms(gpu.msPerStep)} a step against ${ms(cpu.msPerStep)} on the CPU)`, detail, notice: null };
}

/** How long a kept probe verdict holds: browsers and drivers update. */
export const PROBE_KEPT_DAYS = 7;

/**
 * The localStorage key of a probe result: the adapter, and the CPU threads the CPU side ran on
 * (a verdict measured on one thread says nothing of eight, nor of a host that now isolates).
 */
export function probeKey(adapter: AdapterInfo, cpuThreads: number): string {
  return `sslp-probe:${adapter.vendor}|${adapter.architecture}|${adapter.description}|${adapter.isFallbackAdapter}|cpu${cpuThreads}`;
}

/**
 * CPU threads by default at most: at these sizes more gain nothing (burn-flex splits only large
 * matmuls and element-wise ops), and each holds a 2 MiB stack. `threads=N` may ask for more.
 */
export const DEFAULT_MAX_THREADS = 8;

/**
 * The CPU threads a run gets: one where the page is not cross-origin isolated (no shared
 * memory), else one per core up to `DEFAULT_MAX_THREADS`, or up to the link's `threads=N`
 * (`limit`, 0 = none), which may pass the default but never the cores.
 */
export function cpuThreadCount(cores: number, limit: number, isolated: boolean): number {
  const available = Math.max(1, Math.floor(cores) || 1);
  if (!isolated) return 1;
  return limit > 0 ? Math.min(available, limit) : Math.min(available, DEFAULT_MAX_THREADS);
}

/** What localStorage keeps under `probeKey`. */
export function keepProbe(result: ProbeResult, now: number): string {
  return JSON.stringify({ at: now, result });
}

/** The kept probe result, or null: none, older than `PROBE_KEPT_DAYS`, or unreadable. */
export function keptProbe(stored: string | null, now: number): ProbeResult | null {
  if (!stored) return null;
  try {
    const kept = JSON.parse(stored) as { at?: unknown; result?: ProbeResult };
    const age = typeof kept.at === 'number' ? now - kept.at : -1;
    const fresh = age >= 0 && age < PROBE_KEPT_DAYS * 86_400_000;
    return fresh && kept.result && Array.isArray(kept.result.timings) ? kept.result : null;
  } catch {
    return null;
  }
}
