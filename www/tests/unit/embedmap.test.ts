import { describe, expect, it } from 'vitest';
import { alignAxes, classColour, fitToSquare, nearestPoint } from '../../src/embedmap';

describe('embedding map', () => {
  it('flips back an axis that a new PCA mirrored, and leaves the other alone', () => {
    const prev = [1, 2, -1, 0.5, 3, -2];
    // x mirrored, y kept (with small moves).
    const next = [-1.1, 2, 0.9, 0.4, -3, -2.1];
    expect(Array.from(alignAxes(prev, next))).toEqual([1.1, 2, -0.9, 0.4, 3, -2.1].map(Math.fround));
    // Nothing to align with: the map as it came.
    expect(Array.from(alignAxes(null, next))).toEqual(next.map(Math.fround));
  });

  it('fits a map into [−1, 1]² around its centre with one scale for both axes', () => {
    // x spans 2..6 (4 wide), y spans 10..12: the wider axis sets the scale (half-width 2).
    expect(Array.from(fitToSquare([2, 10, 6, 12, 4, 11]))).toEqual([-1, -0.5, 1, 0.5, 0, 0]);
    // A collapsed embedding (every point the same) sits at the origin.
    expect(Array.from(fitToSquare([3, 3, 3, 3]))).toEqual([0, 0, 0, 0]);
  });

  it('picks the nearest point within the radius, or none', () => {
    const xy = [10, 10, 20, 20, 30, 10];
    expect(nearestPoint(xy, 19, 21, 5)).toBe(1);
    expect(nearestPoint(xy, 29, 12, 5)).toBe(2);
    expect(nearestPoint(xy, 50, 50, 5)).toBe(-1);
  });

  it('gives classes distinct colours, beyond ten too', () => {
    const colours = Array.from({ length: 40 }, (_, k) => classColour(k));
    expect(new Set(colours).size).toBe(40);
  });
});
