import { describe, expect, it } from 'vitest';
import { borderMean, toPlanar } from '../../src/image';

function rgba(h: number, w: number, f: (y: number, x: number) => [number, number, number]): Uint8ClampedArray {
  const out = new Uint8ClampedArray(4 * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.set([...f(y, x), 255], 4 * (y * w + x));
  return out;
}

describe('user image → dataset pixels', () => {
  it('RGB stays planar [c, h, w] in [0, 1]', () => {
    const px = toPlanar(rgba(2, 3, (y, x) => [255, x * 100, y * 255]), 3, 2, 3);
    expect(px.length).toBe(18);
    expect(Array.from(px.slice(0, 6))).toEqual([1, 1, 1, 1, 1, 1]); // red plane
    expect(px[6 + 1]).toBeCloseTo(100 / 255, 6); // green at (0, 1)
    expect(px[12 + 3]).toBeCloseTo(1, 6); // blue at (1, 0)
  });

  it('a dark object on a light page is inverted to match MNIST (light on black)', () => {
    // 8×8 white page with a black 2×2 blot in the middle
    const img = rgba(8, 8, (y, x) => (y >= 3 && y <= 4 && x >= 3 && x <= 4 ? [0, 0, 0] : [255, 255, 255]));
    const grey = toPlanar(img, 1, 8, 8);
    expect(grey[3 * 8 + 3]).toBeCloseTo(1, 6); // the blot became light
    expect(grey[0]).toBeCloseTo(0, 6); // the page became black
    expect(borderMean(grey, 8, 8)).toBeCloseTo(0, 6);
  });

  it('a light object on black is left alone; grey uses the luma weights', () => {
    const img = rgba(8, 8, (y, x) => (y >= 3 && y <= 4 && x >= 3 && x <= 4 ? [255, 0, 0] : [0, 0, 0]));
    const grey = toPlanar(img, 1, 8, 8);
    expect(grey[3 * 8 + 3]).toBeCloseTo(0.299, 6);
    expect(grey[0]).toBe(0);
  });
});
