import { describe, expect, it } from 'vitest';
import { curvesCsv } from '../../src/exports';
import { underRoot, filesFromInput } from '../../src/ownimages';

describe('curvesCsv', () => {
  it('writes one row per point, sorted by step, and quotes fields with commas or quotes', () => {
    const csv = curvesCsv([
      { chart: 'loss', points: [{ series: 'total', step: 2, value: 1.5 }, { series: 'total', step: 1, value: 2.25 }] },
      { chart: 'knn', points: [{ series: 'kNN % (a,b)', step: 0, value: 71.5 }, { series: 'say "hi"', step: 0, value: 3 }] },
    ]);
    expect(csv).toBe('chart,series,step,value\nloss,total,1,2.25\nloss,total,2,1.5\nknn,"kNN % (a,b)",0,71.5\nknn,"say ""hi""",0,3\n');
  });
});

describe('own image paths', () => {
  it('drops the chosen folder from a path, so the first folder left is the class', () => {
    expect(underRoot('pets/cats/1.png')).toBe('cats/1.png');
    expect(underRoot('pets/cats/deep/2.png')).toBe('cats/deep/2.png');
    expect(underRoot('loose.png')).toBe('loose.png');
  });
  it('keeps loose files by name and folder files by their path under the folder', () => {
    const loose = new File(['x'], 'a.png');
    const inFolder = new File(['x'], 'b.png');
    Object.defineProperty(inFolder, 'webkitRelativePath', { value: 'pets/dogs/b.png' });
    expect(filesFromInput([loose, inFolder]).map((f) => f.path)).toEqual(['a.png', 'dogs/b.png']);
  });
});
