import { describe, expect, it } from 'vitest';
import type { MethodInfo, RunConfig } from '../../src/protocol';
import { optionsFromUrl, paramOverrides, paramText, parseLabelCounts, parseParam, searchFromAttributes, urlFromOptions } from '../../src/urlconfig';

const defaults: RunConfig = {
  dataset: 'fashion-mnist', backbone: 'small-cnn', width: 32, method: 'simclr', params: {}, optimizer: null,
  steps: 600, batch_size: 128, labels_per_class: 10, seed: 1, eval_every: 0, knn_k: 20, knn_temperature: 0.07,
  train_limit: null, test_limit: null,
};
const sgd = (lr: number) => ({ kind: 'sgd', lr, momentum: 0.9, nesterov: true, weight_decay: 5e-4, warmup: 0, cosine: true });
const methods: MethodInfo[] = [
  { id: 'simclr', family: 'contrastive', name: 'SimCLR', paper: '', link: '', explanation: '', uses_labels: false, curves: [{ name: 'total', tag: 'loss' }], defaults: { temperature: 0.2, views: { min_scale: 0.2 } }, optimizer: sgd(0.05) },
  { id: 'fixmatch', family: 'semi-supervised', name: 'FixMatch', paper: '', link: '', explanation: '', uses_labels: true, curves: [{ name: 'total', tag: 'loss' }], defaults: { threshold: 0.95 }, optimizer: sgd(0.03) },
];

describe('URL ↔ run config', () => {
  it('reads the documented parameters', () => {
    const { options, problems } = optionsFromUrl('?dataset=mnist&method=fixmatch&steps=300&batch=32&labels=4&lr=0.1&p.threshold=0.9&autostart=1&embed=1&backend=cpu', defaults, methods);
    expect(problems).toEqual([]);
    expect(options.config.dataset).toBe('mnist');
    expect(options.config.method).toBe('fixmatch');
    expect(options.config.steps).toBe(300);
    expect(options.config.batch_size).toBe(32);
    expect(options.config.labels_per_class).toBe(4);
    expect(options.config.params).toEqual({ threshold: 0.9 });
    // lr overrides the chosen method's own optimizer, keeping its other settings
    expect(options.config.optimizer).toEqual({ ...sgd(0.03), lr: 0.1 });
    expect(options).toMatchObject({ autostart: true, embed: true, backend: 'cpu' });
  });

  it('an empty query gives the defaults', () => {
    const { options, problems } = optionsFromUrl('', defaults, methods);
    expect(problems).toEqual([]);
    expect(options.config).toEqual(defaults);
    expect(options).toMatchObject({ autostart: false, embed: false, backend: null });
  });

  it('reads the backend probe: probe=1, or probe_deadline in seconds, which implies it', () => {
    expect(optionsFromUrl('?probe=1', defaults, methods).options).toMatchObject({ probe: true, probeDeadlineS: null });
    expect(optionsFromUrl('?probe_deadline=30', defaults, methods).options).toMatchObject({ probe: true, probeDeadlineS: 30 });
    const bad = optionsFromUrl('?probe_deadline=0.5', defaults, methods);
    expect(bad.options).toMatchObject({ probe: false, probeDeadlineS: null });
    expect(bad.problems).toEqual(['probe_deadline=0.5 must be a whole number of seconds in 1..120']);
    expect(urlFromOptions({ config: defaults, autostart: false, embed: false, backend: null, probe: true, probeDeadlineS: 30 }, defaults, methods)).toBe('?probe_deadline=30');
    expect(urlFromOptions({ config: defaults, autostart: false, embed: false, backend: null, probe: true }, defaults, methods)).toBe('?probe=1');
  });

  it('reports bad values by name and keeps the defaults for them', () => {
    const { options, problems } = optionsFromUrl('?dataset=cifar&steps=-3&batch=abc&lr=0&method=moco9&backend=tpu', defaults, methods);
    expect(options.config.dataset).toBe('fashion-mnist');
    expect(options.config.steps).toBe(600);
    expect(options.config.batch_size).toBe(128);
    expect(problems.join('\n')).toMatch(/dataset=cifar is not known/);
    expect(problems.join('\n')).toMatch(/steps=-3 must be a whole number/);
    expect(problems.join('\n')).toMatch(/batch=abc/);
    expect(problems.join('\n')).toMatch(/lr=0 must be a positive number/);
    expect(problems.join('\n')).toMatch(/method=moco9/);
    expect(problems.join('\n')).toMatch(/backend=tpu/);
  });

  it('nested method parameters use dotted names', () => {
    const { options } = optionsFromUrl('?p.views.min_scale=0.3&p.temperature=0.5', defaults, methods);
    expect(options.config.params).toEqual({ views: { min_scale: 0.3 }, temperature: 0.5 });
  });

  it('round-trips, writing only what differs from the defaults', () => {
    const config: RunConfig = { ...defaults, method: 'fixmatch', steps: 50, seed: 7, optimizer: { ...sgd(0.03), lr: 0.2 }, params: { threshold: 0.8 } };
    const query = urlFromOptions({ config, autostart: true, embed: false, backend: null }, defaults, methods);
    expect(query).toBe('?method=fixmatch&steps=50&seed=7&lr=0.2&p.threshold=0.8&autostart=1');
    const back = optionsFromUrl(query, defaults, methods).options;
    expect(back.config).toEqual(config);
    expect(back.autostart).toBe(true);
    expect(urlFromOptions({ config: defaults, autostart: false, embed: false, backend: null }, defaults, methods)).toBe('');
  });

  it('writes nothing for untouched f32 defaults and round-trips lists as JSON', () => {
    const withLists: MethodInfo[] = [{ ...methods[0], defaults: { temperature: 0.20000000298023224, views: { crop_ratio: [0.75, 1.3333333730697632] }, head_hidden: [128] } }];
    // The form shows 0.2 and [0.75,1.33333]: reading them back is no edit.
    const untouched = { ...defaults, params: paramOverrides([['temperature', 0.2], ['views.crop_ratio', [0.75, 1.33333]], ['head_hidden', [128]]], withLists[0].defaults) };
    expect(untouched.params).toEqual({});
    expect(urlFromOptions({ config: untouched, autostart: false, embed: false, backend: null }, defaults, withLists)).toBe('');
    const edited: RunConfig = { ...defaults, params: { head_hidden: [64, 32], views: { crop_ratio: [0.5, 2] } } };
    const query = urlFromOptions({ config: edited, autostart: false, embed: false, backend: null }, defaults, withLists);
    expect(decodeURIComponent(query)).toBe('?p.head_hidden=[64,32]&p.views.crop_ratio=[0.5,2]');
    const back = optionsFromUrl(query, defaults, withLists);
    expect(back.problems).toEqual([]);
    expect(back.options.config.params).toEqual(edited.params);
  });

  it('names unknown, malformed and prototype-polluting parameters and ignores them', () => {
    const { options, problems } = optionsFromUrl('?p.__proto__.polluted=1&p.constructor.prototype.x=2&p.views.min_scal=0.3&p.temperature=hot&p.views.min_scale=[1]', defaults, methods);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('x');
    expect(options.config.params).toEqual({});
    const text = problems.join('\n');
    expect(text).toMatch(/p\.__proto__\.polluted is not a parameter name/);
    expect(text).toMatch(/p\.constructor\.prototype\.x is not a parameter name/);
    expect(text).toMatch(/simclr has no parameter views\.min_scal; its parameters are temperature, views\.min_scale/);
    expect(text).toMatch(/p\.temperature=hot must be a number/);
    expect(text).toMatch(/p\.views\.min_scale=\[1\] must be a number/);
  });

  it('parses form and link values by the type of their default', () => {
    expect(parseParam('k', '[64, 32]', [128])).toEqual({ value: [64, 32] });
    expect(parseParam('k', '64', [128])).toEqual({ error: 'k=64 must have the form of [128]' });
    expect(parseParam('k', 'false', true)).toEqual({ value: false });
    expect(parseParam('k', '1e-3', 0.5)).toEqual({ value: 0.001 });
    expect(parseParam('k', '', 0.5)).toEqual({ error: 'k= must be a number' });
    expect(paramText(0.4000000059604645)).toBe('0.4');
    expect(paramText([0.75, 1.3333333730697632])).toBe('[0.75,1.33333]');
  });
});
describe('label counts for the label-efficiency sweep', () => {
  it('reads commas, spaces or semicolons and sorts', () => {
    expect(parseLabelCounts('10, 1 4')).toEqual([1, 4, 10]);
    expect(parseLabelCounts(' 25;100 ')).toEqual([25, 100]);
  });
  it('names what is wrong', () => {
    expect(() => parseLabelCounts('')).toThrow(/whole numbers ≥ 1/);
    expect(() => parseLabelCounts('1, 0')).toThrow(/not 0/);
    expect(() => parseLabelCounts('2.5')).toThrow(/not 2\.5/);
    expect(() => parseLabelCounts('four')).toThrow(/not four/);
    expect(() => parseLabelCounts('4, 4')).toThrow(/once/);
  });
});

describe('<ssl-playground> attributes', () => {
  const attrs = (o: Record<string, string>) => Object.entries(o).map(([name, value]) => ({ name, value }));
  it('are the link settings under the same names; a bare flag is on; compact by default', () => {
    const { search, unknown } = searchFromAttributes(attrs({ id: 'a', class: 'wide', style: 'margin: 0', 'data-note': 'x', method: 'fixmatch', steps: '300', 'p.threshold': '0.9', autostart: '' }));
    expect(unknown).toEqual([]);
    expect(new URLSearchParams(search).toString()).toBe('method=fixmatch&steps=300&p.threshold=0.9&autostart=1&embed=1');
    const { options, problems } = optionsFromUrl(search, defaults, methods);
    expect(problems).toEqual([]);
    expect(options.config).toMatchObject({ method: 'fixmatch', steps: 300, params: { threshold: 0.9 } });
    expect(options).toMatchObject({ autostart: true, embed: true });
  });
  it('embed="0" gives the full layout; an unknown attribute is named, not applied', () => {
    expect(new URLSearchParams(searchFromAttributes(attrs({ autostart: 'autostart' })).search).get('autostart')).toBe('1');
    const { search, unknown } = searchFromAttributes(attrs({ embed: '0', stpes: '10', steps: '5' }));
    expect(unknown).toEqual(['stpes']);
    const { options } = optionsFromUrl(search, defaults, methods);
    expect(options.embed).toBe(false);
    expect(options.config.steps).toBe(5);
  });
});
