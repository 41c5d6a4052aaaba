import { describe, expect, it } from 'vitest';
import { growthError, growthPct, parseBenchSettings } from '../../src/bench';
import { median } from '../../src/smooth';

describe('browser benchmark settings', () => {
  it('has defaults that leave batch and width to the page', () => {
    const s = parseBenchSettings('');
    expect(s).toEqual({ methods: null, backbone: 'small-cnn', backends: null, batch: null, width: null, steps: 10, warmup: 2, dataset: 'fashion-mnist', conv: ['burn'], maxGrowth: null });
  });

  it('reads lists and numbers from the link', () => {
    const s = parseBenchSettings('?methods=simclr,%20dino&backbone=vit-tiny&backends=cpu&batch=16&width=8&steps=6&warmup=1');
    expect(s.methods).toEqual(['simclr', 'dino']);
    expect(s.backbone).toBe('vit-tiny');
    expect(s.backends).toEqual(['cpu']);
    expect([s.batch, s.width, s.steps, s.warmup]).toEqual([16, 8, 6, 1]);
  });

  it('names a bad setting', () => {
    expect(() => parseBenchSettings('?batch=0')).toThrow('batch=0: expected a whole number from 1 to 1024');
    expect(() => parseBenchSettings('?steps=2.5')).toThrow('steps=2.5');
    expect(() => parseBenchSettings('?backends=gpu')).toThrow('backends=gpu: each must be cpu, cpu-1, cpu-base or webgpu');
    expect(parseBenchSettings('?backends=cpu,cpu-1').backends).toEqual(['cpu', 'cpu-1']);
    expect(parseBenchSettings('?backends=cpu-base,cpu').backends).toEqual(['cpu-base', 'cpu']);
    expect(() => parseBenchSettings('?steps=3&warmup=3')).toThrow('warmup=3 leaves no steps to measure of steps=3');
    expect(() => parseBenchSettings('?max_growth=-1')).toThrow('max_growth=-1: expected a percentage of 0 or more');
    expect(parseBenchSettings('?conv=burn,im2col').conv).toEqual(['burn', 'im2col']);
    expect(() => parseBenchSettings('?conv=winograd')).toThrow('conv=winograd: each must be burn or im2col');
    expect(() => parseBenchSettings('?steps=20001')).toThrow('steps=20001: expected a whole number from 2 to 20000');
  });

  it('reads a soak', () => {
    const s = parseBenchSettings('?steps=10000&warmup=200&max_growth=5');
    expect([s.steps, s.warmup, s.maxGrowth]).toEqual([10000, 200, 5]);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});

describe('memory growth of a soak', () => {
  const sample = (step: number, wasm: number, gpu: number | null) => ({ step, wasm_mib: wasm, gpu_mib: gpu });

  it('is the per cent added after the warm-up', () => {
    expect(growthPct(40, 42)).toBe(5);
    expect(growthPct(40, 40)).toBe(0);
    expect(growthPct(3, 4)).toBe(33.3);
    expect(growthPct(null, 4)).toBeNull();
    expect(growthPct(0, 4)).toBeNull();
  });

  it('names what grew past the limit, and passes what did not', () => {
    const flat = { after_warmup: sample(200, 40, 12), end: sample(10000, 41, 12), wasm_growth_pct: 2.5, gpu_growth_pct: 0 };
    expect(growthError(flat, 5)).toBeNull();
    expect(growthError(flat, null)).toBeNull();
    const leaking = { ...flat, end: sample(10000, 41, 24), gpu_growth_pct: 100 };
    expect(growthError(leaking, 5)).toBe('the GPU buffers grew 100 % from step 200 to step 10000 (limit 5 %)');
    const cpu = { after_warmup: sample(200, 40, null), end: sample(10000, 60, null), wasm_growth_pct: 50, gpu_growth_pct: null };
    expect(growthError(cpu, 5)).toBe('the wasm heap grew 50 % from step 200 to step 10000 (limit 5 %)');
    expect(growthError({ after_warmup: null, end: null, wasm_growth_pct: null, gpu_growth_pct: null }, 5)).toContain('ended before its warm-up');
  });
});
