// Property test over the real method registry (the built wasm's `methods()`): for every
// parameter of every method, a run set in the form survives form → URL → page unchanged, and
// Rust reads the result without a type error. It keeps checking as methods are added.
// Needs pkg/ (scripts/build-web.sh builds it before the unit tests run).
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/random';
import type { MethodInfo, RunConfig } from '../../src/protocol';
import { flatten, optionsFromUrl, paramOverrides, paramText, parseParam, setDotted, urlFromOptions } from '../../src/urlconfig';

const pkg = new URL('../../../pkg/', import.meta.url);
let methods: MethodInfo[] = [];
let defaults: RunConfig;
let checkConfig: (json: string) => void;

beforeAll(async () => {
  if (!existsSync(new URL('ssl_playground_bg.wasm', pkg))) throw new Error('pkg/ is missing: run scripts/build-web.sh first');
  const wasm = await import(/* @vite-ignore */ new URL('ssl_playground.js', pkg).href);
  await wasm.default({ module_or_path: readFileSync(new URL('ssl_playground_bg.wasm', pkg)) });
  methods = wasm.methods();
  defaults = wasm.defaultConfig();
  checkConfig = wasm.checkConfig;
});

/** A value a user might type in place of `like`: same type, up to 6 significant digits. */
function typed(like: unknown, r: () => number): unknown {
  if (typeof like === 'boolean') return !like;
  if (typeof like === 'number') {
    // JSON cannot tell 1.0 from 1, so whole defaults get whole values (a count stays a count).
    if (Number.isInteger(like)) return Math.floor(r() * 64);
    return Number((r() * 4).toPrecision(1 + Math.floor(r() * 6)));
  }
  if (Array.isArray(like)) return like.length ? like.map((x) => typed(x, r)) : [];
  return like;
}

/** What the form does: show each value as text, read it back, keep what differs. */
function throughForm(m: MethodInfo, params: Record<string, unknown>): Record<string, unknown> {
  const merged = structuredClone(m.defaults);
  for (const [k, v] of flatten(params)) setDotted(merged, k, v);
  const flatDefaults = new Map(flatten(m.defaults));
  const read: [string, unknown][] = flatten(merged).map(([k, v]) => {
    if (typeof v === 'boolean') return [k, v];
    const parsed = parseParam(k, paramText(v), flatDefaults.get(k));
    if ('error' in parsed) throw new Error(parsed.error);
    return [k, parsed.value];
  });
  return paramOverrides(read, m.defaults);
}

describe('every method’s parameters round-trip through the form and the URL', () => {
  it('has the registry', () => {
    expect(methods.map((m) => m.id)).toEqual(expect.arrayContaining(['rotnet', 'simclr', 'fixmatch', 'supervised']));
  });

  it('an untouched form writes no parameter, and its link gives the defaults back', () => {
    for (const m of methods) {
      expect(throughForm(m, {}), m.id).toEqual({});
      const config = { ...defaults, method: m.id, params: {} };
      const query = urlFromOptions({ config, autostart: false, embed: false, backend: null }, defaults, methods);
      expect(query, m.id).not.toMatch(/p\./);
      const back = optionsFromUrl(query, defaults, methods);
      expect(back.problems, m.id).toEqual([]);
      expect(back.options.config, m.id).toEqual(config);
      checkConfig(JSON.stringify(config)); // Rust accepts every method's defaults
    }
  });

  it('random edits of every parameter survive form → URL → page, and Rust reads them', () => {
    const r = seededRandom(2026);
    let cases = 0;
    for (const m of methods) {
      const flat = flatten(m.defaults);
      for (let i = 0; i < 150; i++) {
        const edits: [string, unknown][] = flat.filter(() => r() < 0.35).map(([k, v]) => [k, typed(v, r)]);
        const params = paramOverrides(edits, m.defaults);
        expect(throughForm(m, params), `${m.id} form`).toEqual(params);
        const lr = r() < 0.3 ? Number((r() * 0.5 + 0.001).toPrecision(3)) : null;
        const config: RunConfig = {
          ...defaults,
          method: m.id,
          params,
          steps: 1 + Math.floor(r() * 1000),
          batch_size: 2 + Math.floor(r() * 200),
          seed: Math.floor(r() * 1e6),
          optimizer: lr === null || lr === m.optimizer.lr ? null : { ...m.optimizer, lr },
        };
        const query = urlFromOptions({ config, autostart: false, embed: false, backend: null }, defaults, methods);
        const back = optionsFromUrl(query, defaults, methods);
        expect(back.problems, `${m.id}: ${query}`).toEqual([]);
        expect(back.options.config, `${m.id}: ${query}`).toEqual(config);
        // Rust may refuse a value's range, never its type or its name.
        try {
          checkConfig(JSON.stringify(back.options.config));
        } catch (e) {
          expect(String(e), `${m.id}: ${query}`).not.toMatch(/invalid type|unknown field|no parameter|expected/);
        }
        cases++;
      }
    }
    expect(cases).toBe(150 * methods.length);
    // 150 cases for each of the 26 methods, each through Rust: seconds on a busy 2-core machine.
  }, 60_000);
});
