// The page URL describes the run, so a link reproduces it:
//   ?dataset=mnist&method=fixmatch&steps=300&batch=32&lr=0.03&p.threshold=0.9&autostart=1
// `p.<name>` sets a method hyper-parameter, only where it differs from the method's default
// as the page shows it (6 significant digits). Dotted names reach nested ones
// (`p.views.flip_p=0`); lists and pairs are JSON (`p.views.crop_scale=[0.3,1]`). `embed=1`
// gives the compact layout for iframes; `backend=cpu` skips WebGPU; `probe=1` times both backends
// before choosing one, even where WebGPU is a software adapter (`probe_deadline=30` gives WebGPU
// 30 s instead of 5 to its first step); `threads=1` keeps the CPU backend on one thread. Values that do not parse,
// and names a method does not have, are reported on the page, never silently dropped.
import type { Backend, MethodInfo, RunConfig } from './protocol';

export const DATASETS = ['fashion-mnist', 'mnist', 'emoji', 'own'] as const;
export const BACKBONES = ['small-cnn', 'resnet-tiny', 'vit-tiny'] as const;

export interface PageOptions {
  config: RunConfig;
  autostart: boolean;
  embed: boolean;
  /** `null` = use WebGPU when the browser has it. */
  backend: Backend | null;
  /** `probe=1`: time both backends before choosing, even on a software adapter, and keep no earlier verdict. */
  probe?: boolean;
  /** `probe_deadline=S`: the probe with WebGPU allowed S seconds (1–120) to its first step; implies `probe=1`. */
  probeDeadlineS?: number | null;
  /** `threads=N`: at most N CPU threads (1–64); null = one per core. */
  threads?: number | null;
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

/** Keys that would reach Object.prototype through a dotted path; never followed. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Rust's f32 defaults arrive as 0.4000000059604645; the page shows and compares 6 digits. */
export function tidy(x: number): number {
  return Number(x.toPrecision(6));
}

/** Equal as the page shows them: numbers to 6 significant digits, arrays and objects deeply. */
export function sameShown(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return tidy(a) === tidy(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameShown(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameShown(a[k], b[k]));
  }
  return a === b;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A parameter value as the form and the URL show it: numbers to 6 digits, booleans as
 * true/false, arrays (and tuples, which serde writes as arrays) as JSON.
 */
export function paramText(value: unknown): string {
  if (typeof value === 'number') return String(tidy(value));
  if (typeof value === 'string') return value;
  return JSON.stringify(value, (_, v) => (typeof v === 'number' ? tidy(v) : v));
}

/** Whether two JSON values have the same shape: a list of numbers stays a list of numbers. */
function sameKind(value: unknown, like: unknown): boolean {
  if (Array.isArray(like)) {
    if (!Array.isArray(value)) return false;
    const item = like[0];
    return item === undefined || value.every((v) => sameKind(v, item));
  }
  if (isPlainObject(like)) return isPlainObject(value);
  return typeof value === typeof like;
}

/**
 * Parse a parameter from the form or the URL, typed by its default. Returns the value or a
 * message naming what was expected.
 */
export function parseParam(key: string, text: string, like: unknown): { value: unknown } | { error: string } {
  const t = text.trim();
  if (typeof like === 'number') {
    const n = Number(t);
    return t !== '' && Number.isFinite(n) ? { value: n } : { error: `${key}=${text} must be a number` };
  }
  if (typeof like === 'boolean') {
    if (['true', '1', 'on', 'yes'].includes(t)) return { value: true };
    if (['false', '0', 'off', 'no'].includes(t)) return { value: false };
    return { error: `${key}=${text} must be true or false` };
  }
  if (typeof like === 'string') return { value: text };
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return { error: `${key}=${text} must be written as JSON like ${paramText(like)}` };
  }
  return sameKind(value, like) ? { value } : { error: `${key}=${text} must have the form of ${paramText(like)}` };
}

function setDotted(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  if (keys.some((k) => FORBIDDEN_KEYS.has(k))) return;
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!Object.hasOwn(node, key) || !isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/** `{views: {flip_p: 0.5}}` → `[['views.flip_p', 0.5]]`; arrays are leaves. */
function flatten(obj: Record<string, unknown>, prefix = '', out: [string, unknown][] = []): [string, unknown][] {
  for (const [key, value] of Object.entries(obj)) {
    if (isPlainObject(value)) flatten(value, `${prefix}${key}.`, out);
    else out.push([`${prefix}${key}`, value]);
  }
  return out;
}

/**
 * The method parameters that differ from `defaults` as shown, nested as the Rust side reads
 * them. Keys the method does not have are kept, so Rust names them in its error.
 */
export function paramOverrides(values: Iterable<[string, unknown]>, defaults: Record<string, unknown>): Record<string, unknown> {
  const known = new Map(flatten(defaults));
  const out: Record<string, unknown> = {};
  for (const [key, value] of values) {
    if (!known.has(key) || !sameShown(value, known.get(key))) setDotted(out, key, value);
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
  const method = methods.find((m) => m.id === config.method);
  const known = new Map(flatten(method?.defaults ?? {}));
  const values: [string, unknown][] = [];
  for (const [name, text] of q.entries()) {
    if (!name.startsWith('p.')) continue;
    const key = name.slice(2);
    if (key.split('.').some((k) => k === '' || FORBIDDEN_KEYS.has(k))) {
      problems.push(`${name} is not a parameter name`);
    } else if (!known.has(key)) {
      problems.push(`${config.method} has no parameter ${key}; its parameters are ${[...known.keys()].join(', ')}`);
    } else {
      const parsed = parseParam(name, text, known.get(key));
      if ('error' in parsed) problems.push(parsed.error);
      else values.push([key, parsed.value]);
    }
  }
  config.params = paramOverrides(values, method?.defaults ?? {});
  let backend: Backend | null = null;
  const b = q.get('backend');
  if (b === 'cpu' || b === 'webgpu') backend = b;
  else if (b !== null) problems.push(`backend=${b} is not known; choose webgpu or cpu`);
  const flag = (name: string) => linkFlag(q, name);
  let probeDeadlineS: number | null = null;
  const deadline = q.get('probe_deadline');
  if (deadline !== null) {
    const v = Number(deadline);
    if (Number.isInteger(v) && v >= 1 && v <= 120) probeDeadlineS = v;
    else problems.push(`probe_deadline=${deadline} must be a whole number of seconds in 1..120`);
  }
  const threads = threadsFromQuery(q);
  if (threads === undefined) problems.push(`threads=${q.get('threads')} must be a whole number in 1..64`);
  return { options: { config, autostart: flag('autostart'), embed: flag('embed'), backend, probe: flag('probe') || probeDeadlineS !== null, probeDeadlineS, threads: threads ?? null }, problems };
}

/** Whether a link turns on the flag `name` (`autostart=1`, `embed=true`, `probe=yes`). */
export function linkFlag(q: URLSearchParams, name: string): boolean {
  return ['1', 'true', 'yes'].includes(q.get(name) ?? '');
}

/** `threads=N` of a link: N in 1..64, null when absent, undefined when it does not parse. */
export function threadsFromQuery(q: URLSearchParams): number | null | undefined {
  const raw = q.get('threads');
  if (raw === null) return null;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : undefined;
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
  const method = methods.find((m) => m.id === c.method);
  for (const [key, value] of flatten(paramOverrides(flatten(c.params), method?.defaults ?? {}))) q.set(`p.${key}`, paramText(value));
  if (options.backend) q.set('backend', options.backend);
  if (options.autostart) q.set('autostart', '1');
  if (options.embed) q.set('embed', '1');
  if (options.threads) q.set('threads', String(options.threads));
  if (options.probeDeadlineS) q.set('probe_deadline', String(options.probeDeadlineS));
  else if (options.probe) q.set('probe', '1');
  const s = q.toString();
  return s ? `?${s}` : '';
}

export { flatten, setDotted };

/** "1, 4, 10" → [1, 4, 10]: whole numbers ≥ 1, each once (Rust checks the count and ranges). */
export function parseLabelCounts(text: string): number[] {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  const counts = parts.map(Number);
  const bad = parts.find((_, i) => !Number.isInteger(counts[i]) || counts[i] < 1);
  if (parts.length === 0 || bad !== undefined) throw new Error(`label counts must be whole numbers ≥ 1 separated by commas, like 1, 4, 10${bad === undefined ? '' : ` (not ${bad})`}`);
  if (new Set(counts).size !== counts.length) throw new Error('each label count must appear once');
  return counts.sort((a, b) => a - b);
}

/** Attributes every HTML element may carry: never read as run settings. */
const GLOBAL_ATTRIBUTES = new Set(['id', 'class', 'style', 'title', 'lang', 'dir', 'hidden', 'slot', 'part', 'tabindex', 'role', 'nonce', 'translate', 'inert', 'is']);

/** The names a link may set (besides `p.<name>`). */
const URL_NAMES = new Set(['dataset', 'backbone', 'method', 'lr', 'backend', 'threads', 'probe', 'probe_deadline', 'autostart', 'embed', ...NUMBER_FIELDS.map(([, name]) => name)]);

/**
 * An `<ssl-playground>` element's attributes as the query string a link would carry: the same
 * names and values (`method="rotnet" steps="300" p.temperature="0.2"`). A bare attribute is
 * on (`autostart` = `autostart=1`). The element is compact unless it says `embed="0"`.
 * Attributes that are no setting (a typo: `stpes`) are returned in `unknown`, for the notice.
 */
export function searchFromAttributes(attributes: Iterable<{ name: string; value: string }>): { search: string; unknown: string[] } {
  const q = new URLSearchParams();
  const unknown: string[] = [];
  for (const { name, value } of attributes) {
    if (GLOBAL_ATTRIBUTES.has(name) || name.startsWith('data-') || name.startsWith('aria-') || name.startsWith('on')) continue;
    if (!URL_NAMES.has(name) && !name.startsWith('p.')) unknown.push(name);
    // A boolean attribute is on when present bare or as its own name (`autostart="autostart"`).
    else q.set(name, (value === '' || value === name) && (name === 'autostart' || name === 'embed' || name === 'probe') ? '1' : value);
  }
  if (!q.has('embed')) q.set('embed', '1');
  const s = q.toString();
  return { search: s ? `?${s}` : '', unknown };
}
