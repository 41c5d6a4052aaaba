import { describe, expect, it } from 'vitest';
import { parseFromWorker, stepMessage } from '../../src/protocol';

describe('worker message protocol', () => {
  it('a step report becomes a compact message with only the chart numbers', () => {
    const msg = stepMessage({ kind: 'step', step: 12, stage: 'fine-tune', total: 2.5, sup: 1.25, mask_ratio: 0.5, lr: 0.03, images_per_s: 140.5 });
    expect(msg).toEqual({ type: 'step', step: 12, stage: 'fine-tune', terms: { total: 2.5, sup: 1.25, mask_ratio: 0.5 }, lr: 0.03, imagesPerS: 140.5 });
    // survives structured cloning, as postMessage does
    expect(structuredClone(msg)).toEqual(msg);
  });

  it('non-finite terms travel as null (Rust writes NaN as null)', () => {
    const msg = stepMessage({ kind: 'step', step: 3, total: null, unsup: Number.NaN, lr: 0.1, images_per_s: 10 });
    expect(msg.terms).toEqual({ total: null, unsup: null });
  });

  it('parses known messages and rejects malformed ones with a reason', () => {
    const ok = parseFromWorker({ type: 'step', step: 1, terms: { total: 1 }, lr: 0.1, imagesPerS: 5 });
    expect(ok.type).toBe('step');
    expect(parseFromWorker({ type: 'error', kind: 'nan', message: 'x', step: 4 }).type).toBe('error');
    expect(() => parseFromWorker(null)).toThrow(/malformed/);
    expect(() => parseFromWorker({ type: 'bogus' })).toThrow(/unknown worker message type: bogus/);
    expect(() => parseFromWorker({ type: 'step', step: 1, terms: {}, lr: 0.1 })).toThrow(/imagesPerS/);
    expect(() => parseFromWorker({ type: 'error', kind: 'nan' })).toThrow(/message/);
  });
});
