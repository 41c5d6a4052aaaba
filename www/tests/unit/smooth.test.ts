import { describe, expect, it } from 'vitest';
import { Ema, formatDuration, smooth } from '../../src/smooth';

describe('smoothing', () => {
  it('is a bias-corrected exponential moving average (hand-computed)', () => {
    // w = 0.5: avg1 = 0.5·2 = 1, norm1 = 0.5 → 2;  avg2 = 0.5·1 + 0.5·4 = 2.5, norm2 = 0.75 → 3.333…
    // avg3 = 0.5·2.5 + 0.5·0 = 1.25, norm3 = 0.875 → 1.428571…
    const out = smooth([2, 4, 0], 0.5);
    expect(out[0]).toBeCloseTo(2, 12);
    expect(out[1]).toBeCloseTo(10 / 3, 12);
    expect(out[2]).toBeCloseTo(1.25 / 0.875, 12);
  });

  it('weight 0 returns the raw values; gaps stay gaps', () => {
    expect(smooth([1, 5, 3], 0)).toEqual([1, 5, 3]);
    const out = smooth([1, null, Number.NaN, 3], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    // the gap does not reset or poison the average: (0.5·0.5·1... ) = (0.25 + 1.5)/0.75
    expect(out[3]).toBeCloseTo((0.5 * 0.5 + 0.5 * 3) / 0.75, 12);
  });

  it('rejects weights outside [0, 1)', () => {
    expect(() => smooth([1], 1)).toThrow(/smoothing weight/);
    expect(() => smooth([1], -0.1)).toThrow(/smoothing weight/);
  });

  it('Ema matches smooth and ignores non-finite input', () => {
    const e = new Ema(0.5);
    expect(Number.isNaN(e.value)).toBe(true);
    e.push(2);
    e.push(Number.NaN);
    e.push(4);
    expect(e.value).toBeCloseTo(10 / 3, 12);
  });

  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(192)).toBe('3 min 12 s');
    expect(formatDuration(3900)).toBe('1 h 05 min');
    expect(formatDuration(Number.NaN)).toBe('–');
  });
});
