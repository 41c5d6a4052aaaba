import { describe, expect, it } from 'vitest';
import type { MethodInfo, RunConfig } from '../../src/protocol';
import { optionsFromUrl, urlFromOptions } from '../../src/urlconfig';

const defaults: RunConfig = {
  dataset: 'fashion-mnist', backbone: 'small-cnn', width: 32, method: 'simclr', params: {}, optimizer: null,
  steps: 600, batch_size: 128, labels_per_class: 10, seed: 1, eval_every: 0, knn_k: 20, knn_temperature: 0.07,
  train_limit: null, test_limit: null,
};
const sgd = (lr: number) => ({ kind: 'sgd', lr, momentum: 0.9, nesterov: true, weight_decay: 5e-4, warmup: 0, cosine: true });
const methods: MethodInfo[] = [
  { id: 'simclr', family: 'contrastive', name: 'SimCLR', paper: '', link: '', explanation: '', loss_terms: ['total'], defaults: { temperature: 0.2, views: { min_scale: 0.2 } }, optimizer: sgd(0.05) },
  { id: 'fixmatch', family: 'semi-supervised', name: 'FixMatch', paper: '', link: '', explanation: '', loss_terms: ['total'], defaults: { threshold: 0.95 }, optimizer: sgd(0.03) },
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
});
