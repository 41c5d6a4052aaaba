import { describe, expect, it } from 'vitest';
import { median, parseBenchSettings } from '../../src/bench';

describe('browser benchmark settings', () => {
  it('has defaults that leave batch and width to the page', () => {
    const s = parseBenchSettings('');
    expect(s).toEqual({ methods: null, backbone: 'small-cnn', backends: null, batch: null, width: null, steps: 10, warmup: 2, dataset: 'fashion-mnist' });
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
    expect(() => parseBenchSettings('?backends=gpu')).toThrow('backends=gpu: each must be cpu or webgpu');
    expect(() => parseBenchSettings('?steps=3&warmup=3')).toThrow('warmup=3 leaves no steps to measure of steps=3');
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
