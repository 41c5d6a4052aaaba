// The training worker: owns the wasm module and the Session, trains step by step and answers
// the page's queries between steps. Every call into the session goes through `exclusive`, so a
// neighbour query asked mid-step waits for that step instead of racing it.
/// <reference lib="webworker" />
import init, { ImageImport, WebSession, checkConfig, labelSweep, methods, defaultConfig, deviceLost, setConvPath, simulateDeviceLoss } from '../../pkg/ssl_playground.js';
import type * as WasmModule from '../../pkg/ssl_playground.js';
import type { ImportFile, ImportReport, TimingPart, AdapterInfo, AfterStep, AttentionMaps, ErrorKind, EvalReport, FromWorker, Matrix, Neighbour, PseudoLabel, RunConfig, RunState, SessionInfo, Snapshot, StartSpec, SweepSpec, Thumb, ToWorker, ViewBlock } from './protocol';
import type { Backend, ConvPath, MapLayout, ProbeSpec, ProbeTiming } from './protocol';
import { PROBE_STEPS, PROBE_TIMED_BUDGET_MS, cpuThreadCount, softwareRenderer } from './backend';
import { median } from './smooth';
import { MAP_POINTS, OWN_DATA_URL, stepMessage } from './protocol';
import { seededRandom } from './random';

declare const self: DedicatedWorkerGlobalScope;

/** Time from this worker's creation (its time origin) to its script running. */
const scriptLoadedMs = performance.now();

// A Rust panic's console message carries a JS stack; the default 10 frames stop inside the
// panic machinery, before the frame that failed.
(Error as unknown as { stackTraceLimit: number }).stackTraceLimit = 64;

let session: WebSession | null = null;
let spec: StartSpec | null = null;
let state: RunState = 'idle';
let snapshot: Snapshot | null = null;
let loop: Promise<void> | null = null;
let chain: Promise<unknown> = Promise.resolve();
let lastStep = 0;
/** The run this worker serves; commands for other runs are ignored. */
let runId = 0;
/** Test images whose attention maps are drawn at every evaluation (`vit-tiny` runs). */
let attentionIndices: number[] = [];
/** Test images with attention maps by default: the gallery's first ones. */
const ATTENTION_DEFAULT = 4;

function post(msg: FromWorker, transfer: Transferable[] = []) {
  self.postMessage({ ...msg, runId }, transfer);
}

/** The wasm module's memory, once instantiated: its size is the heap (it only grows). */
let wasmMemory: WebAssembly.Memory | null = null;
/** The memory of the module the current session runs in (the threaded build's on threads). */
let sessionMemory: WebAssembly.Memory | null = null;

/**
 * The multi-threaded CPU build (issue 12, part 3): `pkg-mt/` beside the site's assets, built
 * with wasm atomics and without WebGPU (wgpu's types are not Send under atomics), its rayon pool
 * made of Web Workers (wasm-bindgen-rayon). It needs a cross-origin isolated page (COOP and
 * COEP headers: shared memory); elsewhere, and when it fails to load, CPU runs use this
 * worker's own single-threaded module, and the page says why.
 */
type ThreadedModule = typeof WasmModule & { initThreadPool(threads: number): Promise<unknown> };
interface CpuBuild {
  threaded: ThreadedModule | null;
  memory: WebAssembly.Memory | null;
  threads: number;
  /** Why the CPU runs on one thread; empty on several. */
  reason: string;
}
let cpuBuild: Promise<CpuBuild> | null = null;
/** The most threads the page allows (`threads=` in its link); 0 = one per core. */
let threadLimit = 0;
/** Whether the page will train on the CPU unless the adapter is a GPU: load the threaded build early. */
let preloadThreads = false;
/** CPU sessions run in `pkg-base/`, the benchmark's baseline build (no SIMD, one thread). */
let baselineBuild = false;
/**
 * While the pool starts: fails its start. A pool worker that cannot load reports its error to
 * this worker's global scope, where it would otherwise read as a crash of the run.
 */
let poolStartError: ((e: unknown) => void) | null = null;
/** How long the pool's workers may take to start before the run goes on on one thread. */
const POOL_START_TIMEOUT_MS = 15_000;

function loadCpuBuild(): Promise<CpuBuild> {
  cpuBuild ??= (async (): Promise<CpuBuild> => {
    const single = (reason: string): CpuBuild => ({ threaded: null, memory: null, threads: 1, reason });
    if (baselineBuild) return loadBaselineBuild();
    const cores = self.navigator.hardwareConcurrency || 1;
    const threads = cpuThreadCount(cores, threadLimit, self.crossOriginIsolated);
    if (threadLimit === 1) return single('the link asks for one thread (threads=1)');
    if (cores < 2) return single('the browser reports one core');
    if (!self.crossOriginIsolated) return single('the page is not cross-origin isolated: its host sends no COOP/COEP headers, which shared wasm memory needs');
    const t = performance.now();
    let timer = 0;
    try {
      // Not bundled: a static file beside the assets, so the pool's workers load the same module.
      const url = new URL('../pkg-mt/ssl_playground.js', self.location.href).href;
      const threaded = (await import(/* @vite-ignore */ url)) as ThreadedModule;
      const { memory } = await threaded.default();
      // The pool's start waits for every worker's first message: one that fails to load would
      // hold it for ever. Its error, or the timeout, ends the wait instead.
      const failed = new Promise<never>((_, reject) => {
        poolStartError = reject;
        timer = self.setTimeout(() => reject(new Error(`its ${threads} pool workers did not start within ${POOL_START_TIMEOUT_MS / 1000} s`)), POOL_START_TIMEOUT_MS);
      });
      await Promise.race([threaded.initThreadPool(threads), failed]);
      sessionMemory = memory;
      timing('threads', t);
      return { threaded, memory, threads, reason: '' };
    } catch (e) {
      return single(`the multi-threaded build did not start (${message(e)})`);
    } finally {
      self.clearTimeout(timer);
      poolStartError = null;
    }
  })();
  return cpuBuild;
}

/**
 * The baseline CPU build, `pkg-base/` (`SSLP_BASELINE=1 scripts/build-web.sh`): this crate
 * built as the CPU path was before issue 12, without SIMD and on one thread, so the benchmark
 * measures today's speed-up in one run, on one commit. Only `bench.html` asks for it.
 */
async function loadBaselineBuild(): Promise<CpuBuild> {
  const url = new URL('../pkg-base/ssl_playground.js', self.location.href).href;
  try {
    const base = (await import(/* @vite-ignore */ url)) as ThreadedModule;
    const { memory } = await base.default();
    return { threaded: base, memory, threads: 1, reason: 'the baseline build (no SIMD, one thread) runs it' };
  } catch (e) {
    throw new Error(`the baseline CPU build did not load from ${url} (build it with SSLP_BASELINE=1 scripts/build-web.sh): ${message(e)}`);
  }
}

/** How the CNN backbones convolve in this worker's sessions (only the benchmark changes it). */
let convPath: ConvPath = 'burn';

/** A session on `backend`: CPU sessions run in the threaded build where it loads. */
async function createSession(config: RunConfig, bytes: Uint8Array, name: string, backend: Backend): Promise<WebSession> {
  if (backend === 'cpu') {
    const build = await loadCpuBuild();
    post({ type: 'cpuThreads', threads: build.threads, reason: build.reason });
    if (build.threaded) {
      build.threaded.setConvPath(convPath);
      const s = await build.threaded.WebSession.create(JSON.stringify(config), bytes, name, backend);
      sessionMemory = build.memory;
      return s;
    }
  }
  setConvPath(convPath);
  const s = await WebSession.create(JSON.stringify(config), bytes, name, backend);
  sessionMemory = wasmMemory;
  return s;
}
/** The wasm heap in bytes: the single-threaded module's, and the threaded build's once loaded. */
function heapBytes(): number {
  const own = wasmMemory?.buffer.byteLength ?? 0;
  return sessionMemory && sessionMemory !== wasmMemory ? own + sessionMemory.buffer.byteLength : own;
}

/** When this run's start command arrived (`performance.now()`). */
let startedAt = 0;

/**
 * Bytes of the GPU buffers created through WebGPU and not yet destroyed (wgpu destroys a buffer
 * when it drops it). Burn does not expose its memory pools' size, so the soak benchmark counts at
 * the WebGPU API: `createBuffer` and `destroy` are wrapped once, before the device exists.
 */
let gpuBufferBytes = 0;
let countingGpuBuffers = false;

function countGpuBuffers() {
  type Proto = Record<string, (...args: unknown[]) => unknown>;
  const scope = self as unknown as { GPUDevice?: { prototype: Proto }; GPUBuffer?: { prototype: Proto } };
  const device = scope.GPUDevice?.prototype;
  const buffer = scope.GPUBuffer?.prototype;
  if (!device || !buffer || countingGpuBuffers) return;
  countingGpuBuffers = true;
  const sizes = new WeakMap<object, number>();
  const create = device.createBuffer;
  device.createBuffer = function (this: unknown, ...args: unknown[]) {
    const made = create.apply(this, args) as object;
    const size = Number((args[0] as { size?: unknown } | undefined)?.size ?? 0);
    sizes.set(made, size);
    gpuBufferBytes += size;
    return made;
  };
  const destroy = buffer.destroy;
  buffer.destroy = function (this: object, ...args: unknown[]) {
    const size = sizes.get(this);
    if (size !== undefined) {
      gpuBufferBytes -= size;
      sizes.delete(this);
    }
    return destroy.apply(this, args);
  };
}
countGpuBuffers();

/** Post how long `part` took since `since` (ms, `performance.now()`), with the heap now. */
function timing(part: TimingPart, since: number) {
  post({ type: 'timing', part, ms: performance.now() - since, wasmBytes: heapBytes() });
}

function setState(next: RunState) {
  state = next;
  post({ type: 'state', state, step: session?.stepCount ?? 0 });
}

/** Run `f` after every session call queued before it. */
function exclusive<T>(f: () => Promise<T>): Promise<T> {
  const p = chain.then(f);
  chain = p.catch(() => undefined);
  return p;
}

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The innermost cause of a chained Rust error ("…\nCaused by:\n  X\nBacktrace: …" → "X"). */
function rootCause(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Caused by:|Backtrace:|No backtrace available)/.test(l));
  return (lines[lines.length - 1] ?? text).replace(/^the compute device failed: /, '');
}

/** A wasm trap (a Rust panic) leaves the module unusable; only a fresh worker recovers. */
function isTrap(e: unknown): boolean {
  return e instanceof WebAssembly.RuntimeError;
}

/** The slice of the WebGPU API the probe needs (no @webgpu/types dependency). */
interface GpuProbe {
  requestAdapter(): Promise<{ info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean } } | null>;
}

async function probeAdapter(): Promise<{ adapter: AdapterInfo | null; error: string | null }> {
  const gpu = (self.navigator as unknown as { gpu?: GpuProbe }).gpu;
  if (!gpu) return { adapter: null, error: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { adapter: null, error: 'the browser offers no WebGPU adapter (WebGPU may be disabled, or the GPU is blocklisted)' };
    const info = adapter.info;
    return {
      adapter: {
        vendor: info.vendor,
        architecture: info.architecture,
        description: info.description,
        isFallbackAdapter: info.isFallbackAdapter ?? false,
      },
      error: null,
    };
  } catch (e) {
    return { adapter: null, error: `requesting a WebGPU adapter failed: ${message(e)}` };
  }
}

async function hello() {
  post({ type: 'timing', part: 'script', ms: scriptLoadedMs, wasmBytes: 0 });
  const t = performance.now();
  try {
    wasmMemory = (await init()).memory;
  } catch (e) {
    post({ type: 'error', kind: 'load', step: null, message: `The WebAssembly module could not be loaded (${message(e)}). Reload the page; if you host it yourself, check that pkg/*.wasm is served with Content-Type application/wasm.` });
    return;
  }
  const { adapter, error } = await probeAdapter();
  timing('wasm', t);
  post({ type: 'hello', methods: methods(), defaults: defaultConfig(), adapter, webgpuError: error });
  // Where the page will train on the CPU (no adapter, or a software one, and the link asks
  // neither for WebGPU nor for a probe, whose timings it would disturb), the threaded build
  // loads now, beside the page's set-up and the dataset's download, not before step 1.
  if (preloadThreads && (!adapter || softwareRenderer(adapter))) loadCpuBuild().catch(() => undefined); // the run reports a failure
}

/** The largest image file and the largest zip read (bytes); larger ones are named and skipped. */
const MAX_IMAGE_FILE = 64 << 20;
const MAX_ZIP_FILE = 1 << 30;

/**
 * Decode the user's files into the `own` dataset, in Rust (`ImageImport`), posting progress
 * about ten times a second. Files are read one at a time, so a folder of any size needs only
 * one file's bytes at once besides the decoded images. Nothing leaves the machine.
 */
async function importImages(files: ImportFile[], size: number, name: string) {
  let importer: ImageImport;
  try {
    importer = new ImageImport(size);
  } catch (e) {
    post({ type: 'imported', name, report: null, error: message(e), pack: null });
    return;
  }
  let lastPost = 0;
  for (const [i, { path, file }] of files.entries()) {
    const isZip = path.toLowerCase().endsWith('.zip');
    const limit = isZip ? MAX_ZIP_FILE : MAX_IMAGE_FILE;
    try {
      if (file.size > limit) {
        importer.addUnreadable(path, `${(file.size / 2 ** 20).toFixed(0)} MiB, over the ${limit / 2 ** 20} MiB a ${isZip ? 'zip' : 'file'} may have`);
      } else {
        const bytes = new Uint8Array(await file.arrayBuffer());
        if (isZip) importer.addZip(bytes);
        else importer.add(path, bytes);
      }
    } catch (e) {
      if (isTrap(e)) {
        // The module stopped (a bug, or memory ran out): it cannot be called again.
        post({ type: 'imported', name, report: null, error: `decoding ${path} stopped the worker (${message(e)}). Reload the page; try fewer or smaller files`, pack: null });
        return;
      }
      importer.addUnreadable(path, isZip ? `cannot be unzipped: ${message(e)}` : `cannot be read (${message(e)})`);
    }
    if (performance.now() - lastPost > 100 || i === files.length - 1) {
      lastPost = performance.now();
      const [, skipped] = importer.counts();
      post({ type: 'importProgress', done: i + 1, total: files.length, skipped });
    }
  }
  try {
    const out = importer.finish(name, BigInt(1)) as ImportReport & { pack: Uint8Array };
    const { pack, ...report } = out;
    // The page keeps the pack and sends it with each run, so a new worker (after a lost GPU) has it too.
    post({ type: 'imported', name, report, error: null, pack }, [pack.buffer]);
  } catch (e) {
    post({ type: 'imported', name, report: null, error: message(e), pack: null });
  } finally {
    importer.free();
  }
}

/** The last bundled pack fetched (the probe's is usually the run's too). */
let fetchedPack: { url: string; bytes: Uint8Array } | null = null;

async function loadPack(url: string, pack?: Uint8Array): Promise<Uint8Array> {
  if (url === OWN_DATA_URL) {
    if (!pack) throw new Error('No images are imported yet: under Dataset, choose a folder with one subfolder per class, then press Train.');
    return pack;
  }
  if (fetchedPack?.url === url) return fetchedPack.bytes;
  const bytes = await fetchPack(url);
  fetchedPack = { url, bytes };
  return bytes;
}

async function fetchPack(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`The dataset file ${url} could not be fetched (${message(e)}). Check that the data/ folder was deployed with the page.`);
  }
  if (!response.ok) {
    throw new Error(`The dataset file ${url} could not be loaded: HTTP ${response.status} ${response.statusText}. Check that the data/ folder was deployed with the page.`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The backend probe (issue 12, part 1): a few steps of a small run on each backend, WebGPU
 * first. Each backend's set-up (device, dataset upload) and first step (shader compiles) are
 * untimed; then up to `PROBE_STEPS` steps are timed, within `PROBE_TIMED_BUDGET_MS`. A WebGPU
 * set-up and first step that run past the deadline (`PROBE_FIRST_STEP_DEADLINE_MS` unless the
 * link says `probe_deadline`) end the probe: the CPU wins without its own figure, since the GPU
 * work still queued would slow it. The page decides (`chooseByProbe`).
 */
async function probeBackends(p: ProbeSpec) {
  const t = performance.now();
  const timings: ProbeTiming[] = [];
  try {
    const bytes = await loadPack(p.dataUrl);
    const gpu = await probeOne('webgpu', p.config, bytes, p.deadlineMs);
    timings.push(gpu);
    if (gpu.msPerStep !== null) timings.push(await probeOne('cpu', p.config, bytes, p.deadlineMs));
  } catch (e) {
    if (!timings.length) timings.push({ backend: 'webgpu', firstStepMs: null, msPerStep: null, steps: 0, error: message(e), timedOut: false });
  }
  timing('probe', t);
  const c = p.config;
  post({ type: 'probe', result: { method: c.method, backbone: c.backbone, width: c.width, batch: c.batch_size, timings, ms: performance.now() - t, deadlineMs: p.deadlineMs } });
}

async function probeOne(backend: Backend, config: RunConfig, bytes: Uint8Array, deadlineMs: number): Promise<ProbeTiming> {
  const none = (error: string, timedOut = false): ProbeTiming => ({ backend, firstStepMs: null, msPerStep: null, steps: 0, error, timedOut });
  const late = `its set-up and first step had not finished after ${deadlineMs / 1000} s`;
  // Neither the set-up nor a step can be cancelled: what runs past the deadline is freed when it ends.
  const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), deadlineMs));
  const t = performance.now();
  let s: WebSession;
  try {
    const creating = createSession(config, bytes, config.dataset, backend);
    const created = await Promise.race([creating, deadline]);
    if (created === 'late') {
      creating.then((x) => x.free(), () => undefined);
      return none(late, true);
    }
    s = created;
  } catch (e) {
    return none(rootCause(message(e)));
  }
  let keep = false;
  try {
    const first = s.step();
    const finished = await Promise.race([first.then(() => true), deadline.then(() => false)]);
    if (!finished) {
      keep = true;
      const free = () => s.free();
      first.then(free, free);
      return none(late, true);
    }
    const firstStepMs = performance.now() - t;
    const times: number[] = [];
    const began = performance.now();
    while (times.length < PROBE_STEPS && (times.length === 0 || performance.now() - began < PROBE_TIMED_BUDGET_MS)) {
      const t1 = performance.now();
      await s.step();
      times.push(performance.now() - t1);
    }
    return { backend, firstStepMs, msPerStep: median(times), steps: times.length, error: null, timedOut: false };
  } catch (e) {
    return none(rootCause(message(e)));
  } finally {
    if (!keep) s.free();
  }
}

function thumbs(s: WebSession, split: 'train' | 'test', indices: number[], labels: number[]): Thumb[] {
  return indices.map((index, i) => ({ index, label: labels[i], pixels: s.image(split, index) }));
}

async function start(next: StartSpec, id: number) {
  await stop();
  runId = id;
  session?.free();
  session = null;
  spec = next;
  snapshot = next.snapshot ?? null;
  lastStep = next.snapshot?.step ?? 0;
  mapImagesSent = false;
  lastMapStep = 0;
  setState('loading');
  try {
    checkConfig(JSON.stringify(next.config)); // ranges and parameters, before any download
  } catch (e) {
    post({ type: 'error', kind: 'config', step: null, message: message(e) });
    setState('idle');
    return;
  }
  let bytes: Uint8Array;
  startedAt = performance.now();
  try {
    bytes = await loadPack(next.dataUrl, next.pack);
  } catch (e) {
    post({ type: 'error', kind: 'load', step: null, message: message(e) });
    setState('idle');
    return;
  }
  timing('dataset', startedAt);
  const building = performance.now();
  try {
    session = await createSession(next.config, bytes, next.packName ?? next.config.dataset, next.backend);
  } catch (e) {
    // Rust names the kind (config, load, device); a trap has none.
    post({ type: 'error', kind: (errorKind(e) as ErrorKind | null) ?? 'internal', step: null, message: message(e) });
    setState('idle');
    return;
  }
  timing('session', building);
  const s = session;
  const info: SessionInfo = s.info();
  const n = Math.min(next.galleryCount, info.dataset.n_test);
  const indices = Array.from({ length: n }, (_, i) => i);
  const gallery = thumbs(s, 'test', indices, Array.from(s.labels('test', n)));
  const trainLabels = info.labelled.length ? s.labels('train', info.dataset.n_train) : new Uint8Array();
  const labelled = thumbs(s, 'train', info.labelled, info.labelled.map((i) => trainLabels[i]));
  let resumedFrom: number | null = null;
  let resumedExact: boolean | null = null;
  if (next.snapshot) {
    const kept = next.snapshot.tensors;
    try {
      s.importState(kept, next.snapshot.step);
      resumedFrom = next.snapshot.step;
      // Read the state back: EMA teachers, queues and memory banks are part of it, so this
      // checks that everything the method keeps arrived whole.
      const back: Snapshot = await exclusive(() => s.exportState());
      resumedExact = back.tensors.length === kept.length && back.tensors.every((t, i) => t.length === kept[i].length && t.every((v, j) => v === kept[i][j]));
    } catch (e) {
      post({ type: 'error', kind: 'config', step: null, message: `could not resume from the snapshot: ${message(e)}` });
    }
  }
  post({ type: 'ready', info, gallery, labelled, resumedFrom, resumedExact });
  attentionIndices = next.config.backbone === 'vit-tiny' ? indices.slice(0, ATTENTION_DEFAULT) : [];
  await attention(s);
  // The untrained backbone's kNN must not hold up step 1: it is measured right after the first
  // step (the session keeps the untrained backbone for it), or once the run has waited a moment
  // without training. The kNN chart's baseline fills in when it arrives.
  baselinePending = resumedFrom === null;
  setState('paused');
  setTimeout(() => {
    if (session === s && state !== 'training' && s.stepCount === 0) void baseline(s);
  }, BASELINE_WHEN_IDLE_MS);
}

/** Whether this run's untrained-backbone kNN is still to be measured. */
let baselinePending = false;
/** How long a run that has not started training waits before measuring its baseline. */
const BASELINE_WHEN_IDLE_MS = 1500;

/** Measure and post the untrained backbone's kNN per layer, once per run. */
async function baseline(s: WebSession) {
  if (!baselinePending) return;
  baselinePending = false;
  try {
    const t = performance.now();
    const base = await exclusive(() => s.baseline());
    timing('baseline', t);
    if (session === s) post({ type: 'baseline', knn: base.accuracy[base.accuracy.length - 1], layers: base.layers, byLayer: base.accuracy });
  } catch (e) {
    fail(e, s.stepCount);
  }
}

async function evaluate(s: WebSession) {
  const r: EvalReport = await exclusive(() => s.evaluate());
  const matrices: Matrix[] = await exclusive(() => s.matrices());
  if (matrices.length) post({ type: 'matrices', step: r.step, matrices });
  await attention(s);
  await embeddingMap(s, r.step);
  post({
    type: 'eval',
    step: r.step,
    stage: r.stage,
    knn: r.knn_acc,
    knnByLayer: r.knn_by_layer,
    testAcc: r.test_acc ?? null,
    pretextAcc: r.pretext_acc ?? null,
    embeddingStd: r.embedding_std ?? null,
    effectiveRank: r.effective_rank ?? null,
    rankLimit: r.rank_limit,
    embeddingDim: r.embedding_dim,
    metrics: r.metrics,
    confusion: r.confusion ?? null,
  });
  if (r.test_acc !== null && r.test_acc !== undefined) {
    const guesses: PseudoLabel[] = await exclusive(() => s.pseudoLabels(PSEUDO_LABEL_GALLERY));
    const items = guesses.map((g) => ({ ...g, pixels: s.image('train', g.index) }));
    post({ type: 'pseudoLabels', step: r.step, items }, items.map((g) => g.pixels.buffer));
  }
}

/** Unlabelled training images in the page's pseudo-label gallery. */
const PSEUDO_LABEL_GALLERY = 24;

/** The kind a Rust `SessionError` carries across (`nan`, `config`, `device`, `checkpoint`). */
function errorKind(e: unknown): string | null {
  const kind = typeof e === 'object' && e !== null ? (e as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' ? kind : null;
}

/** A step failed: name the cause, keep what can be kept, and stop the loop. */
function fail(e: unknown, step: number) {
  const lost = deviceLostSafe();
  const text = message(e);
  const kind = errorKind(e);
  if (lost || isTrap(e) || (spec?.backend === 'webgpu' && kind === 'device')) {
    post({ type: 'deviceLost', step, message: lost ? `the GPU device was lost (${lost})` : `the WebGPU device stopped working (${rootCause(text)})`, snapshot });
    state = 'failed';
    session = null; // the module may be unusable: the page replaces this worker
    return;
  }
  if (kind === 'nan') {
    post({ type: 'error', kind: 'nan', step, message: text });
    setState('paused');
    return;
  }
  post({ type: 'error', kind: 'internal', step, message: text });
  setState('paused');
}

async function trainLoop() {
  const s = session;
  if (!s || !spec) return;
  while (state === 'training' && session === s) {
    if (s.stepCount >= spec.config.steps) {
      setState('done');
      break;
    }
    try {
      const stepStart = performance.now();
      const report = await exclusive(() => s.step());
      const msg = stepMessage(report);
      lastStep = msg.step;
      post({ ...msg, wasmBytes: heapBytes(), gpuBytes: spec.backend === 'webgpu' && countingGpuBuffers ? gpuBufferBytes : null });
      if (msg.step === 1) timing('first step', stepStart);
      if (msg.step === spec.config.steps) timing('last step', startedAt);
      if (deviceLostSafe()) throw new Error('device lost');
      await baseline(s);
      // The run policy is Rust's (Session::after_step), the same the CLI follows.
      const next: AfterStep = s.afterStep();
      if (next.evaluate) await evaluate(s);
      if (spec.backend === 'webgpu' && next.snapshot) {
        snapshot = await exclusive(() => s.exportState());
      }
    } catch (e) {
      fail(e, s.stepCount);
      break;
    }
    // Let queued messages (pause, a neighbour query) run between steps.
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * The label-efficiency sweep: at each label count, the method and then its supervised-only
 * twin train to their last step, one after another in this worker (Rust plans the pairs,
 * `labelSweep`, as `sslp sweep` does). A point is posted as each pair finishes. Pause or Stop
 * ends the sweep; the points so far stay on the page.
 */
async function sweep(next: SweepSpec, id: number) {
  runId = id;
  session?.free();
  session = null;
  spec = null;
  snapshot = null;
  setState('loading');
  let plan: [RunConfig, RunConfig][];
  try {
    plan = labelSweep(JSON.stringify(next.config), Uint32Array.from(next.labels));
  } catch (e) {
    post({ type: 'error', kind: 'config', step: null, message: message(e) });
    return setState('idle');
  }
  let bytes: Uint8Array;
  try {
    bytes = await loadPack(next.dataUrl, next.pack);
  } catch (e) {
    post({ type: 'error', kind: 'load', step: null, message: message(e) });
    return setState('idle');
  }
  setState('training');
  for (const [index, [run, twin]] of plan.entries()) {
    const accuracies: (number | null)[] = [];
    for (const [which, config] of [['method', run], ['supervised', twin]] as const) {
      const progress = (step: number) => post({ type: 'sweepProgress', point: index, total: plan.length, labels: run.labels_per_class, which, step, steps: config.steps });
      const acc = await sweepRun(config, bytes, next.backend, progress);
      if (acc === undefined) {
        // Stopped, paused or failed: a sweep cannot resume, so it ends here (Reset starts anew);
        // a lost device has already said so and ended this worker.
        if (state === 'stopped' || state === 'paused') setState('done');
        return;
      }
      accuracies.push(acc);
    }
    post({ type: 'sweepPoint', index, total: plan.length, labels: run.labels_per_class, testAcc: accuracies[0], supervisedAcc: accuracies[1] });
  }
  setState('done');
}

/** Train one run of a sweep to its end; its test accuracy, or `undefined` if it was stopped or failed. */
async function sweepRun(config: RunConfig, bytes: Uint8Array, backend: SweepSpec['backend'], progress: (step: number) => void): Promise<number | null | undefined> {
  if (state !== 'training') return undefined;
  let s: WebSession;
  try {
    s = await createSession(config, bytes, config.dataset, backend);
  } catch (e) {
    post({ type: 'error', kind: (errorKind(e) as ErrorKind | null) ?? 'internal', step: null, message: message(e) });
    setState('stopped');
    return undefined;
  }
  // What `fail` reads to tell a lost device from a bad step.
  spec = { config, dataUrl: '', backend, galleryCount: 0 };
  try {
    progress(0);
    while (s.stepCount < config.steps) {
      if (state !== 'training') return undefined;
      await exclusive(() => s.step());
      lastStep = s.stepCount;
      if (s.stepCount % 10 === 0 || s.stepCount === config.steps) progress(s.stepCount);
      // Let a Stop run between steps.
      await new Promise((r) => setTimeout(r, 0));
    }
    const r: EvalReport = await exclusive(() => s.evaluate());
    return r.test_acc ?? null;
  } catch (e) {
    fail(e, s.stepCount);
    return undefined;
  } finally {
    s.free();
  }
}

async function stop() {
  if (state === 'training') setState('stopped');
  await loop;
}

async function neighbours(id: number, query: Extract<ToWorker, { type: 'neighbours' }>['query'], k: number) {
  const s = session;
  if (!s) return post({ type: 'error', kind: 'query', id, step: null, message: 'start a run first: there is no model to search with yet' });
  try {
    const found: Neighbour[] = await exclusive(() => (query.kind === 'test' ? s.neighboursOfTest(query.index, k) : s.neighboursOfImage(query.pixels, k)));
    const results = found.map((n) => ({ ...n, pixels: s.image('train', n.index) }));
    post({ type: 'neighbours', id, results }, results.map((r) => r.pixels.buffer));
  } catch (e) {
    if (isTrap(e)) return fail(e, s.stepCount);
    post({ type: 'error', kind: 'query', id, step: null, message: message(e) });
  }
}

/**
 * Answer page request `id` with something read from the session between steps: `read` runs
 * after every session call queued before it, and its result goes to `reply` unless a new run
 * replaced the session meanwhile (then it is not this run's, and is dropped). Without a session,
 * `noSession` (if given) is the error the page sees; a failure is `failed: <reason>`.
 */
async function answer<T>(id: number, noSession: string | null, failed: string, read: (s: WebSession) => Promise<T>, reply: (value: T, s: WebSession) => void) {
  const s = session;
  if (!s) {
    if (noSession) post({ type: 'error', kind: 'query', id, step: null, message: noSession });
    return;
  }
  try {
    const value = await exclusive(() => read(s));
    if (session !== s) return;
    reply(value, s);
  } catch (e) {
    if (isTrap(e)) return fail(e, s.stepCount);
    post({ type: 'error', kind: 'query', id, step: null, message: `${failed}: ${message(e)}` });
  }
}

/** A copy of the model's state for the page to keep (saved runs). */
function sendSnapshot(id: number) {
  return answer(id, null, 'The run could not be saved', (s): Promise<Snapshot> => s.exportState(), (snap) =>
    post({ type: 'snapshot', id, snapshot: snap }, snap.tensors.map((t) => t.buffer)),
  );
}

/** The model's weights as safetensors, read with async reads between steps. */
function exportWeights(id: number) {
  return answer(id, 'start a run first: there are no weights to save yet', 'The weights could not be saved', (s): Promise<Uint8Array> => s.safetensors(), (bytes, s) =>
    post({ type: 'weights', id, bytes, step: s.stepCount }, [bytes.buffer]),
  );
}

/** The Embedding Projector zip of the first `limit` test images, made in Rust. */
function exportProjector(id: number, limit: number) {
  return answer(id, 'start a run first: there is no model to export yet', 'The export failed', (s): Promise<Uint8Array> => s.projectorZip(limit), (zip) =>
    post({ type: 'projectorZip', id, zip }, [zip.buffer]),
  );
}

/** Whether this run's test labels and pixels went with a map already. */
let mapImagesSent = false;

/** How the map is laid out; the page's UMAP button switches it. */
let mapLayout: MapLayout = 'pca';
/** The step of the last map, to redraw it when the layout changes. */
let lastMapStep = 0;

/**
 * UMAP (umap-js) of the first `MAP_POINTS` test images' features: 15 neighbours, min_dist 0.1
 * (UMAP's defaults), 200 epochs, yielding to the worker's queue every 20 epochs.
 */
async function umapLayout(s: WebSession): Promise<Float32Array> {
  const { dim, values }: { dim: number; values: Float32Array } = await exclusive(() => s.testEmbeddings(MAP_POINTS));
  const n = values.length / dim;
  const rows = Array.from({ length: n }, (_, i) => Array.from(values.subarray(i * dim, (i + 1) * dim)));
  // Loaded on first use, so the worker's first run does not wait for UMAP's 88 kB.
  const { UMAP } = await import('umap-js');
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, n - 1), minDist: 0.1, nEpochs: 200, random: seededRandom(1) });
  const epochs = umap.initializeFit(rows);
  for (let e = 0; e < epochs; e++) {
    umap.step();
    if (e % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return Float32Array.from(umap.getEmbedding().flat());
}

/** Post the embedding map of the first `MAP_POINTS` test images (PCA or UMAP of their features). */
async function embeddingMap(s: WebSession, step: number) {
  lastMapStep = step;
  const layout = mapLayout;
  try {
    const xy: Float32Array = layout === 'umap' ? await umapLayout(s) : await exclusive(() => s.embeddingMap(MAP_POINTS));
    // A map of a run that has since been replaced, or of a layout since switched, is dropped.
    if (session !== s || layout !== mapLayout) return;
    const n = xy.length / 2;
    let labels: Uint8Array | null = null;
    let pixels: Uint8Array | null = null;
    if (!mapImagesSent && n > 0) {
      labels = s.labels('test', n);
      const images = Array.from({ length: n }, (_, i) => s.image('test', i));
      pixels = new Uint8Array(images.reduce((sum, im) => sum + im.length, 0));
      let at = 0;
      for (const im of images) {
        pixels.set(im, at);
        at += im.length;
      }
      mapImagesSent = true;
    }
    post({ type: 'map', step, layout, xy, labels, pixels }, [xy.buffer, ...(pixels ? [pixels.buffer] : [])]);
  } catch (e) {
    if (isTrap(e)) return fail(e, s.stepCount);
    post({ type: 'error', kind: 'query', step: null, message: `the embedding map could not be computed: ${message(e)}` });
  }
}

/** Post the attention maps of `attentionIndices` from the current model (none for CNNs). */
async function attention(s: WebSession) {
  if (attentionIndices.length === 0) return;
  const indices = attentionIndices;
  try {
    const maps: AttentionMaps[] = await exclusive(() => s.attentionMaps(Uint32Array.from(indices)));
    if (maps.length) post({ type: 'attention', step: s.stepCount, maps });
  } catch (e) {
    if (isTrap(e)) return fail(e, s.stepCount);
    post({ type: 'error', kind: 'query', step: null, message: message(e) });
  }
}

async function views(id: number, n: number, testIndices: number[]) {
  const s = session;
  if (!s) return;
  try {
    const v: { blocks: ViewBlock[]; pixels: Float32Array } = await exclusive(() => s.views(n, Uint32Array.from(testIndices)));
    post({ type: 'views', id, blocks: v.blocks, pixels: v.pixels, testIndices }, [v.pixels.buffer]);
  } catch (e) {
    if (isTrap(e)) return fail(e, s.stepCount);
    post({ type: 'error', kind: 'query', id, step: null, message: message(e) });
  }
}

// A panic inside a wasm task surfaces here, not at the awaiting call (whose promise never
// settles). Treat it as the end of this worker's module: report it with the last snapshot.
self.addEventListener('error', (event) => {
  event.preventDefault();
  // While the thread pool starts, an error is one of its workers failing to load: the run goes
  // on on one thread (`loadCpuBuild`).
  if (poolStartError) return poolStartError(event.error ?? new Error(event.message || 'a pool worker failed to load'));
  crashed(event.error ?? event.message);
});
self.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  crashed(event.reason);
});

function crashed(e: unknown) {
  if (state === 'failed') return;
  const step = lastStep;
  state = 'failed';
  session = null;
  if (spec?.backend === 'webgpu') {
    post({ type: 'deviceLost', step, message: `the WebGPU backend stopped (${deviceLostSafe() ?? message(e)})`, snapshot });
  } else {
    post({ type: 'error', kind: 'internal', step, message: `The training code stopped with an internal error (${message(e)}). Press Reset to start again; the browser console has details.` });
    post({ type: 'state', state: 'failed', step });
  }
}

function deviceLostSafe(): string | undefined {
  try {
    return deviceLost();
  } catch {
    return undefined;
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  // Run commands from an earlier run (a click that raced a restart) are dropped.
  const runCommand = ['train', 'pause', 'stop', 'neighbours', 'views', 'attention', 'exportProjector', 'exportWeights', 'snapshot'].includes(msg.type);
  if (runCommand && msg.runId !== undefined && msg.runId !== runId) return;
  switch (msg.type) {
    case 'start':
      void start(msg.spec, msg.runId ?? 0);
      break;
    case 'sweep':
      void (async () => {
        await stop();
        loop = sweep(msg.spec, msg.runId ?? 0).finally(() => (loop = null));
      })();
      break;
    case 'train':
      if (session && (state === 'paused' || state === 'stopped')) {
        setState('training');
        // One loop at most: a loop still finishing its step sees 'training' and goes on.
        loop ??= trainLoop().finally(() => (loop = null));
      }
      break;
    case 'pause':
      if (state === 'training') setState('paused');
      break;
    case 'stop':
      void stop();
      break;
    case 'neighbours':
      void neighbours(msg.id, msg.query, msg.k);
      break;
    case 'views':
      void views(msg.id, msg.n, msg.testIndices ?? []);
      break;
    case 'attention':
      if (session && spec?.config.backbone === 'vit-tiny') {
        attentionIndices = msg.indices;
        void attention(session);
      }
      break;
    case 'simulateDeviceLoss':
      simulateDeviceLoss();
      break;
    case 'import':
      void importImages(msg.files, msg.size, msg.name);
      break;
    case 'probe':
      void probeBackends(msg.spec);
      break;
    case 'threadLimit':
      threadLimit = msg.max;
      baselineBuild = msg.baseline ?? false;
      preloadThreads = msg.preload ?? false;
      break;
    case 'convPath':
      convPath = msg.path;
      break;
    case 'mapLayout':
      mapLayout = msg.layout;
      if (session && lastMapStep > 0) void embeddingMap(session, lastMapStep);
      break;
    case 'exportProjector':
      void exportProjector(msg.id, msg.limit);
      break;
    case 'exportWeights':
      void exportWeights(msg.id);
      break;
    case 'snapshot':
      void sendSnapshot(msg.id);
      break;
  }
};

void hello();
