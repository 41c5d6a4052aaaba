// The page URL describes the run, so a link reproduces it:
//   ?dataset=mnist&method=fixmatch&steps=300&batch=32&lr=0.03&p.threshold=0.9&autostart=1
// `p.<name>` sets a method hyper-parameter (dotted names reach nested ones, e.g.
// `p.views.min_scale`). `embed=1` gives the compact layout for iframes; `backend=cpu` skips
// WebGPU. Values that do not parse are reported, never silently dropped.
import type { Backend, MethodInfo, RunConfig } from './protocol';

export const DATASETS = ['fashion-mnist', 'mnist'] as const;
export const BACKBONES = ['small-cnn', 'resnet-tiny'] as const;

export interface PageOptions {
  config: RunConfig;
  autostart: boolean;
  embed: boolean;
  /** `null` = use WebGPU when the browser has it. */
  backend: Backend | null;
}

/** Plain numeric fields of RunConfig and their URL names. */
const NUMBER_FIELDS: [keyof RunConfig, string][] = [
  ['steps', 'steps'],
  ['batch_size', 'batch'],
  ['width', 'width'],
  ['labels_per_class', 'labels'],
  ['seed', 'seed'],
  ['eval_every', 'eval_every'],
  ['knn_k', 'knn_k'],
  ['train_limit', 'train_limit'],
  ['test_limit', 'test_limit'],
];

function parseValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

function setDotted(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

function flatten(obj: Record<string, unknown>, prefix = '', out: [string, unknown][] = []): [string, unknown][] {
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      flatten(value as Record<string, unknown>, `${prefix}${key}.`, out);
    } else {
      out.push([`${prefix}${key}`, value]);
    }
  }
  return out;
}

/**
 * Read the run from a query string on top of `defaults`, given the registry's `methods`.
 * Returns the options and a list of human-readable problems (bad values are ignored).
 */
export function optionsFromUrl(search: string, defaults: RunConfig, methods: MethodInfo[]): { options: PageOptions; problems: string[] } {
  const methodIds = methods.map((m) => m.id);
  const q = new URLSearchParams(search);
  const config: RunConfig = structuredClone(defaults);
  const problems: string[] = [];
  const choice = (name: string, allowed: readonly string[], apply: (v: string) => void) => {
    const v = q.get(name);
    if (v === null) return;
    if (allowed.includes(v)) apply(v);
    else problems.push(`${name}=${v} is not known; choose one of ${allowed.join(', ')}`);
  };
  choice('dataset', DATASETS, (v) => (config.dataset = v));
  choice('backbone', BACKBONES, (v) => (config.backbone = v));
  choice('method', methodIds, (v) => (config.method = v));
  for (const [field, name] of NUMBER_FIELDS) {
    const v = q.get(name);
    if (v === null) continue;
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) {
      problems.push(`${name}=${v} must be a whole number ≥ 0`);
      continue;
    }
    (config as unknown as Record<string, number>)[field] = n;
  }
  const lrText = q.get('lr');
  if (lrText !== null) {
    const lr = Number(lrText);
    if (!(lr > 0) || !Number.isFinite(lr)) problems.push(`lr=${lrText} must be a positive number`);
    else {
      const method = methods.find((m) => m.id === config.method);
      const base = config.optimizer ?? method?.optimizer;
      if (base) config.optimizer = { ...base, lr };
    }
  }
  const params: Record<string, unknown> = {};
  for (const [key, value] of q.entries()) {
    if (key.startsWith('p.') && key.length > 2) setDotted(params, key.slice(2), parseValue(value));
  }
  if (Object.keys(params).length > 0) config.params = params;
  let backend: Backend | null = null;
  const b = q.get('backend');
  if (b === 'cpu' || b === 'webgpu') backend = b;
  else if (b !== null) problems.push(`backend=${b} is not known; choose webgpu or cpu`);
  const flag = (name: string) => ['1', 'true', 'yes'].includes(q.get(name) ?? '');
  return { options: { config, autostart: flag('autostart'), embed: flag('embed'), backend }, problems };
}

/**
 * The query string for a run: only what differs from `defaults`, so links stay short.
 * `optionsFromUrl(urlFromOptions(o, d, m), d, m)` gives `o` back.
 */
export function urlFromOptions(options: PageOptions, defaults: RunConfig, methods: MethodInfo[]): string {
  const q = new URLSearchParams();
  const c = options.config;
  if (c.dataset !== defaults.dataset) q.set('dataset', c.dataset);
  if (c.backbone !== defaults.backbone) q.set('backbone', c.backbone);
  if (c.method !== defaults.method) q.set('method', c.method);
  for (const [field, name] of NUMBER_FIELDS) {
    const v = c[field];
    if (v !== defaults[field] && typeof v === 'number') q.set(name, String(v));
  }
  const methodLr = methods.find((m) => m.id === c.method)?.optimizer.lr;
  if (c.optimizer && c.optimizer.lr !== methodLr) q.set('lr', String(c.optimizer.lr));
  for (const [key, value] of flatten(c.params)) q.set(`p.${key}`, String(value));
  if (options.backend) q.set('backend', options.backend);
  if (options.autostart) q.set('autostart', '1');
  if (options.embed) q.set('embed', '1');
  const s = q.toString();
  return s ? `?${s}` : '';
}

export { flatten, setDotted, parseValue };
