import { describe, expect, it } from 'vitest';
import type { AdapterInfo, ProbeResult, ProbeTiming, RunConfig } from '../../src/protocol';
import { CPU_WINS_BY, DEFAULT_MAX_THREADS, PROBE_KEPT_DAYS, chooseBackend, cpuThreadCount, keepProbe, keptProbe, probeConfig, probeKey, shouldProbe, softwareRenderer } from '../../src/backend';

// What headless Chromium reports for SwiftShader, and a discrete GPU.
const swiftshader: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true };
const lavapipe: AdapterInfo = { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)', isFallbackAdapter: false };
const fallbackOnly: AdapterInfo = { vendor: '', architecture: '', description: '', isFallbackAdapter: true };
const gpu: AdapterInfo = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200', isFallbackAdapter: false };

describe('backend choice', () => {
  it('names software adapters and leaves GPUs alone', () => {
    expect(softwareRenderer(swiftshader)).toBe('swiftshader');
    expect(softwareRenderer(lavapipe)).toBe('llvmpipe');
    expect(softwareRenderer(fallbackOnly)).toBe('a fallback adapter');
    expect(softwareRenderer(gpu)).toBeNull();
    // "warp" only as a word: a GPU named "Warpath" is not WARP.
    expect(softwareRenderer({ ...gpu, description: 'Warpath 9000' })).toBeNull();
    expect(softwareRenderer({ ...gpu, vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe('Microsoft Basic Render');
  });

  it('trains on a GPU adapter', () => {
    const c = chooseBackend(gpu, null, null);
    expect(c.backend).toBe('webgpu');
    expect(c.badge).toBe('WebGPU · nvidia hopper');
    expect(c.notice).toBeNull();
  });

  it('passes over a software adapter for the CPU, and says why in one line', () => {
    for (const a of [swiftshader, lavapipe, fallbackOnly]) {
      const c = chooseBackend(a, null, null);
      expect(c.backend).toBe('cpu');
      expect(c.badge).toMatch(/^CPU backend \(WebGPU here is software: .+\)$/);
      expect(c.detail).toMatch(/backend=webgpu in the link trains on it anyway/);
      expect(c.notice).toBeNull();
    }
  });

  it('follows the link: backend=webgpu uses a software adapter, backend=cpu skips any', () => {
    expect(chooseBackend(swiftshader, 'webgpu', null)).toMatchObject({ backend: 'webgpu', badge: 'WebGPU · google swiftshader (software, chosen in the link)', notice: null });
    expect(chooseBackend(gpu, 'webgpu', null).badge).toBe('WebGPU · nvidia hopper (chosen in the link)');
    expect(chooseBackend(gpu, 'cpu', null)).toMatchObject({ backend: 'cpu', badge: 'CPU backend (chosen in the link)', notice: null });
  });

  it('falls back to the CPU without WebGPU, with the reason, also when the link asked for WebGPU', () => {
    const c = chooseBackend(null, null, 'this browser has no WebGPU (navigator.gpu is missing)');
    expect(c.backend).toBe('cpu');
    expect(c.notice).toMatch(/^WebGPU is not available here \(this browser has no WebGPU/);
    expect(chooseBackend(null, 'webgpu', 'x').notice).toMatch(/^The link asks for WebGPU, but it is not available here \(x\)/);
  });
});

const timed = (backend: 'webgpu' | 'cpu', msPerStep: number): ProbeTiming => ({ backend, firstStepMs: msPerStep * 4, msPerStep, steps: 3, error: null, timedOut: false });
const result = (timings: ProbeTiming[]): ProbeResult => ({ method: 'simclr', backbone: 'small-cnn', width: 16, batch: 16, timings, ms: 900, deadlineMs: 5000 });

describe('backend probe', () => {
  it('probes adapters that look like GPUs, and any adapter with probe=1, unless the link chooses', () => {
    expect(shouldProbe(gpu, null, false)).toBe(true);
    expect(shouldProbe(swiftshader, null, false)).toBe(false);
    expect(shouldProbe(swiftshader, null, true)).toBe(true);
    expect(shouldProbe(gpu, 'webgpu', true)).toBe(false);
    expect(shouldProbe(gpu, 'cpu', false)).toBe(false);
    expect(shouldProbe(null, null, true)).toBe(false);
  });

  it('keeps WebGPU unless the CPU is clearly faster, and says so with both figures', () => {
    const gpuWins = chooseBackend(gpu, null, null, result([timed('webgpu', 4.25), timed('cpu', 95)]));
    expect(gpuWins).toMatchObject({ backend: 'webgpu', badge: 'WebGPU · nvidia hopper (measured: 4.3 ms a step against 95 ms on the CPU)', notice: null });
    expect(gpuWins.detail).toMatch(/^Probe: simclr on small-cnn width 16, batch 16, in 0\.9 s\. WebGPU: 4\.3 ms a step \(median of 3\), set-up and first step 17 ms; CPU: 95 ms a step/);
    // Within the margin the GPU keeps the run: it gains more from the run's larger batch.
    expect(chooseBackend(gpu, null, null, result([timed('webgpu', 100 * CPU_WINS_BY - 1), timed('cpu', 100)])).backend).toBe('webgpu');
    const cpuWins = chooseBackend(gpu, null, null, result([timed('webgpu', 100 * CPU_WINS_BY + 1), timed('cpu', 100)]));
    expect(cpuWins.backend).toBe('cpu');
    expect(cpuWins.badge).toBe('CPU backend (measured faster: 100 ms a step against 121 ms on WebGPU)');
  });

  it('gives the run to the CPU when WebGPU ran past the deadline or failed, and to WebGPU when the CPU failed', () => {
    const late: ProbeTiming = { backend: 'webgpu', firstStepMs: null, msPerStep: null, steps: 0, error: 'its first step had not finished after 5 s', timedOut: true };
    expect(chooseBackend(swiftshader, null, null, result([late])).badge).toBe("CPU backend (WebGPU took over 5 s to its first step)");
    const broken: ProbeTiming = { ...late, error: 'shader compilation failed', timedOut: false };
    const c = chooseBackend(gpu, null, null, result([broken]));
    expect(c.badge).toBe('CPU backend (WebGPU failed a probe step)');
    expect(c.detail).toMatch(/shader compilation failed/);
    const cpuBroken: ProbeTiming = { ...broken, backend: 'cpu' };
    expect(chooseBackend(gpu, null, null, result([timed('webgpu', 50), cpuBroken])).badge).toBe('WebGPU · nvidia hopper (the CPU backend failed its probe)');
    // The link's choice beats any probe.
    expect(chooseBackend(gpu, 'webgpu', null, result([late])).backend).toBe('webgpu');
    expect(chooseBackend(gpu, 'cpu', null, result([timed('webgpu', 1), timed('cpu', 100)])).backend).toBe('cpu');
  });

  it('trains a small run of the link\'s method on a bundled dataset', () => {
    const config = { dataset: 'own', backbone: 'vit-tiny', width: 32, method: 'dino', batch_size: 128, steps: 600, eval_every: 60, train_limit: null, test_limit: null } as unknown as RunConfig;
    expect(probeConfig(config, 'fashion-mnist')).toMatchObject({ dataset: 'fashion-mnist', backbone: 'vit-tiny', method: 'dino', width: 16, batch_size: 16, eval_every: 0, train_limit: 512 });
    expect(probeConfig({ ...config, width: 8, batch_size: 4 }, 'mnist')).toMatchObject({ width: 8, batch_size: 4 });
  });

  it('keeps a verdict per adapter for a week, and drops stale or unreadable ones', () => {
    const r = result([timed('webgpu', 4), timed('cpu', 95)]);
    const now = 1_800_000_000_000;
    const day = 86_400_000;
    expect(keptProbe(keepProbe(r, now), now + day)).toEqual(r);
    expect(keptProbe(keepProbe(r, now), now + PROBE_KEPT_DAYS * day)).toBeNull();
    expect(keptProbe(keepProbe(r, now), now - day)).toBeNull(); // a clock set back
    expect(keptProbe('{not json', now)).toBeNull();
    expect(keptProbe(JSON.stringify({ at: now }), now)).toBeNull();
    expect(keptProbe(null, now)).toBeNull();
    expect(probeKey(gpu, 8)).not.toBe(probeKey({ ...gpu, description: 'NVIDIA H100' }, 8));
    // A verdict measured with the CPU on one thread is not reused for eight.
    expect(probeKey(gpu, 1)).not.toBe(probeKey(gpu, 8));
  });
});

describe('CPU threads', () => {
  it('uses one thread per core up to the default cap, on an isolated page only', () => {
    expect(cpuThreadCount(2, 0, true)).toBe(2);
    expect(cpuThreadCount(32, 0, true)).toBe(DEFAULT_MAX_THREADS);
    expect(cpuThreadCount(32, 0, false)).toBe(1);
    expect(cpuThreadCount(0, 0, true)).toBe(1); // hardwareConcurrency unknown
  });
  it('lets threads=N pass the default cap but never the cores', () => {
    expect(cpuThreadCount(32, 12, true)).toBe(12);
    expect(cpuThreadCount(4, 12, true)).toBe(4);
    expect(cpuThreadCount(16, 1, true)).toBe(1);
    expect(cpuThreadCount(16, 12, false)).toBe(1);
  });
});
