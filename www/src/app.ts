// The playground itself: builds the run from the form (or the link's settings), sends commands
// to its own training worker and draws what it reports. `mountPlayground` draws it into a root:
// the page's document (main.ts) or an <ssl-playground> element's shadow root (element.ts), so
// several can live on one page, each with its own worker. Nothing here waits on training: every
// reply is a message, and charts redraw at most once per animation frame.
import { CompareChart, KnnChart, TermChart } from './charts';
import type { AdapterInfo, AttentionMaps, Backend, FromWorker, ProbeResult, ImportFile, ImportReport, MapLayout, Matrix, MethodInfo, Metric, Neighbour, PseudoLabel, RunConfig, RunState, SessionInfo, Snapshot, StartSpec, SweepPoint, Thumb, ToWorker, ViewBlock } from './protocol';
import { OWN_DATASET, OWN_DATA_URL, PROJECTOR_IMAGES, parseFromWorker } from './protocol';
import { filesFromDrop, filesFromInput, importName } from './ownimages';
import { curvesCsv, download, type ChartPoints } from './exports';
import { deleteRun, getRun, listRuns, putRun, runTitle, saveErrorText, type RunSummary, type SavedRun } from './savedruns';
import { Ema, formatDuration, smooth } from './smooth';
import { flatten, linkFlag, threadsFromQuery, optionsFromUrl, paramOverrides, paramText, parseLabelCounts, parseParam, setDotted, urlFromOptions, type PageOptions } from './urlconfig';
import { imageFileToPixels } from './image';
import { PROBE_FIRST_STEP_DEADLINE_MS, chooseBackend, cpuThreadCount, keepProbe, keptProbe, probeConfig, probeKey, shouldProbe } from './backend';
import { EmbeddingMapView, classColour, type MapPoint } from './embedmap';

/** Where a playground lives: the page, or one <ssl-playground> element. */
export interface PlaygroundHost {
  /** The run's settings as a query string (`?method=rotnet&steps=300`): the page's URL, or the element's attributes. */
  search: string;
  /** The element that gets the `embed` class for the compact layout. */
  frame: HTMLElement;
  /** Where the site's files are (its `data/` folder): the page's base URL, or the element script's folder. */
  assetBase: string;
  /** A full-page link to the run with these settings (`query` is '' or starts with '?'). */
  linkFor(query: string): string;
  /** Show the current settings in the address bar (the page only: an element leaves its host page's URL alone). */
  showLink?(query: string): void;
  /** Settings the host could not read (an element's unknown attributes), added to the link's notice. */
  problems?: string[];
}

/** A root to draw into: the page's document or a shadow root, both with `getElementById`. */
export type PlaygroundRoot = Document | ShadowRoot;

/** A mounted playground: its state for tests and the console, and hooks the browser test uses. */
export interface Playground {
  debug: DebugState;
  /** Lose the GPU mid-run, as a driver reset would. */
  simulateDeviceLoss(): void;
  /** A worker that dies without a word (as an out-of-memory kill would). */
  killWorker(): void;
  /** Where map point `i` is drawn, in CSS pixels from the canvas's corner. */
  mapPoint(i: number): [number, number] | null;
  /** Stop its worker (the element was removed from the page). */
  destroy(): void;
}

/** What the browser test reads (and a curious user can, in the console). */
export interface DebugState {
  state: RunState;
  backend: Backend | null;
  adapter: AdapterInfo | null;
  steps: number;
  /** The step number of every step message of the current run, in order of arrival. */
  stepNumbers: number[];
  loss: (number | null)[];
  knn: { step: number; value: number; layers: number[] }[];
  baseline: number | null;
  neighbours: number;
  errors: string[];
  trainingStartedAt: number | null;
  /**
   * When the page first saw each message kind of the first worker (`performance.now()`, ms
   * from the page's navigation), with `worker` for its creation: the way to step 1 on one
   * clock. A timing message is keyed by its part (`timing dataset`).
   */
  arrivals: Record<string, number>;
  /** After "Resume on CPU": whether the state read back equals the snapshot, bit for bit. */
  resumedExact: boolean | null;
  /** The method's matrices last drawn, as "name rows×cols". */
  matrices: string[];
  /** Collapse diagnostics at every evaluation. */
  collapse: { step: number; std: number | null; rank: number | null }[];
  metrics: { step: number; stage: string; metrics: Metric[] }[];
  /** Labelled images shown in the run's grid. */
  labelled: number;
  /** The last confusion matrix drawn: its size and the test images it counts. */
  confusion: { classes: number; total: number; correct: number } | null;
  /** The last pseudo-label gallery: images shown and wrong guesses among them. */
  pseudoLabels: { shown: number; wrong: number } | null;
  /** The label-efficiency sweep: its points so far and how many it has. */
  sweep: { points: SweepPoint[]; total: number } | null;
  /** The attention maps last drawn: the step, the test images, and per image its heads' mean entropy, the uniform entropy ln(rows·cols), and the mean map's largest over smallest weight. */
  attention: { step: number; images: number[]; heads: number; entropy: number[]; uniform: number; spread: number[] } | null;
  /** The views panel last drawn: the test images it shows (none: train images), its rows' names and images per row. */
  views: { testImages: number[]; rows: string[]; perRow: number[] } | null;
  /** Worker messages whose handling took 20 ms or more: [type, ms, at]. */
  slowMessages: [string, number, number][];
  /** The worker's timings of the way to the first step (and of the last step), in arrival order. */
  timings: { part: string; ms: number; wasmBytes: number }[];
  /** The CPU backend's threads and why only one (empty when several), once a CPU session exists. */
  cpuThreads: { threads: number; reason: string } | null;
  /** The backend probe's figures this page used (measured now or kept from an earlier visit), or null. */
  probe: (ProbeResult & { kept: boolean }) | null;
  /** The embedding map: the step of the last one, its points, how many maps arrived this run, and the point last hovered. */
  map: { step: number; points: number; layout: MapLayout; updates: number; hovered: number | null } | null;
  /** The last Projector export: its size in bytes. */
  exported: number | null;
  /** Saved runs: how many are listed, how many saves succeeded this page, the step a reopened run restored, runs last compared. */
  saved: { listed: number; saves: number; reopenedAt: number | null; restoredKnnPoints: number; compared: number; queuesDone: number };
  /** Size of the last weights export (bytes). */
  weightsBytes: number | null;
  /** Rows of the last curves CSV export. */
  curvesCsvRows: number | null;
  /** The last image import: its report, or the error that stopped it. */
  imported: { report: ImportReport | null; error: string | null } | null;
}

/** Draw a playground into `root` (which already holds its markup) and start its worker. */
export function mountPlayground(root: PlaygroundRoot, host: PlaygroundHost): Playground {
  /** The current run's link (the share button copies it). */
  let link = host.linkFor(host.search);
  const GALLERY = 48;
  /** Test images with attention maps at a time (the worker's default is the gallery's first four). */
  const ATTENTION_IMAGES = 4;
  /** The gallery's images by test index, for drawing under their attention maps. */
  const galleryThumbs = new Map<number, Thumb>();
  const NEIGHBOURS_K = 8;
  const VIEW_IMAGES = 6;
  /** The views panel's caption for most methods; MaskFeat's preview shows test images instead. */
  const VIEWS_CAPTION = 'The augmented views the method trains on, for the same few images.';
  const TEST_VIEWS_CAPTION =
    'Test images, each masked as in training: the masked input, the HOG target of every 4×4 patch (one line per orientation bin, brighter for more gradient), and the HOG the model predicts for the masked patches, redrawn at every evaluation. Click a test image under Nearest neighbours to put it first.';
  /** Methods whose preview shows the model's prediction on test images rather than train views. */
  const previewsTestImages = (s: SessionInfo) => s.method.id === 'maskfeat';
  /** The test images the views panel shows, the clicked one first; empty: the first train images. */
  let viewTestImages: number[] = [];

  const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
    const el = root.getElementById(id);
    if (!el) throw new Error(`page is missing #${id}`);
    return el as T;
  };

  const debug: DebugState = { state: 'idle', backend: null, adapter: null, steps: 0, stepNumbers: [], loss: [], knn: [], baseline: null, neighbours: 0, errors: [], trainingStartedAt: null, arrivals: {}, resumedExact: null, matrices: [], collapse: [], metrics: [], labelled: 0, confusion: null, pseudoLabels: null, sweep: null, attention: null, views: null, slowMessages: [], timings: [], probe: null, cpuThreads: null, map: null, imported: null, exported: null, curvesCsvRows: null, weightsBytes: null, saved: { listed: 0, saves: 0, reopenedAt: null, restoredKnnPoints: 0, compared: 0, queuesDone: 0 } };

  let worker: Worker;
  /** Workers started so far; the first one's messages are timed in `debug.arrivals`. */
  let workersStarted = 0;
  let methods: MethodInfo[] = [];
  let defaults: RunConfig;
  let adapter: AdapterInfo | null = null;
  let webgpuError: string | null = null;
  let forcedBackend: Backend | null = null;
  let backend: Backend = 'cpu';
  /** The backend probe's result, once there is one; it then decides the backend (`chooseBackend`). */
  let probe: ProbeResult | null = null;
  /** Whether the first hello waits for the probe (the form is on hold meanwhile). */
  let probing = false;
  let state: RunState = 'idle';
  let info: SessionInfo | null = null;
  let wantTraining = false;
  let lastSnapshot: Snapshot | null = null;
  let lossChart: TermChart | null = null;
  let ratioChart: TermChart | null = null;
  let knnChart: KnnChart | null = null;
  let collapseChart: TermChart | null = null;
  /** The stage of the last step (staged methods such as SimCLR v2). */
  let currentStage = '';
  const COLLAPSE_SERIES = ['std × √D', 'effective rank / its limit'];
  let requestId = 0;
  let stepRate = new Ema(0.9);
  let lastStep = 0;
  let smoothing = 0.8;
  let resumePending = false;
  /** The user's imported images as a pack (the `own` dataset), sent with each run that uses them. */
  let ownPack: Uint8Array | null = null;
  let ownPackName = 'own';
  /** The current run; every command carries it and replies from other runs are dropped. */
  let runId = 0;
  /** The first worker applies the link (and autostart); later ones keep the form as it is. */
  let firstHello = true;
  let resumeSnapshot: Snapshot | null = null;

  // ---------- worker ----------

  /** The link's `threads=N`, 0 when it sets none. */
  function linkThreadLimit(): number {
    return threadsFromQuery(new URLSearchParams(host.search)) ?? 0;
  }

  /** The CPU threads a CPU run here gets (the probe's verdict is kept per count). */
  function cpuThreads(): number {
    return cpuThreadCount(navigator.hardwareConcurrency, linkThreadLimit(), self.crossOriginIsolated);
  }

  /**
   * Whether a new worker should load the threaded CPU build during its set-up (it does so only
   * where the adapter is missing or software). Not when the link asks for WebGPU, nor for a
   * probe, whose CPU timing the loading would disturb; after the first choice, when it is the CPU.
   * An element on a course page preloads only when it starts by itself: an idle one may never
   * train, and each would hold its own pool of workers.
   */
  function preloadThreads(): boolean {
    const q = new URLSearchParams(host.search);
    if (!host.showLink && !linkFlag(q, 'autostart')) return false;
    if (debug.backend) return debug.backend === 'cpu';
    return q.get('backend') !== 'webgpu' && !q.has('probe') && !q.has('probe_deadline');
  }

  /**
   * Start a fresh training worker (at page load, on Reset, and to resume on the CPU). Replacing
   * the worker is what makes one Reset enough after any failure, a dead worker included, and
   * what keeps an old run from ever reaching the page: messages from a replaced worker, or
   * from an earlier run id, are dropped.
   */
  function spawnWorker() {
    worker?.terminate();
    const first = workersStarted++ === 0;
    if (first) debug.arrivals.worker = performance.now();
    const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker = w;
    w.postMessage({ type: 'threadLimit', max: linkThreadLimit(), preload: preloadThreads() } satisfies ToWorker);
    w.onmessage = (e: MessageEvent) => {
      if (w !== worker) return;
      let msg: FromWorker;
      try {
        msg = parseFromWorker(e.data);
      } catch (err) {
        return showError(String(err));
      }
      if (msg.runId !== undefined && msg.runId !== 0 && msg.runId !== runId) return;
      const t0 = performance.now();
      if (first) debug.arrivals[msg.type === 'timing' ? `timing ${msg.part}` : msg.type] ??= t0;
      onMessage(msg);
      // uPlot draws in a microtask queued by setData; this one runs after it, so the time
      // includes the drawing.
      queueMicrotask(() => {
        const ms = performance.now() - t0;
        if (ms >= 20) debug.slowMessages.push([msg.type, Math.round(ms), Math.round(t0)]);
      });
    };
    w.onerror = (e) => {
      e.preventDefault();
      if (w !== worker) return;
      showError(`The training worker failed to start (${e.message || 'script error'}). Reload the page; if you host it yourself, check that the assets/ folder was deployed.`);
    };
  }

  function send(msg: ToWorker, transfer: Transferable[] = []) {
    worker.postMessage({ ...msg, runId }, transfer);
  }

  function onMessage(msg: FromWorker) {
    switch (msg.type) {
      case 'hello':
        return onHello(msg.methods, msg.defaults, msg.adapter, msg.webgpuError);
      case 'probe':
        return onProbe(msg.result);
      case 'cpuThreads':
        return onCpuThreads(msg.threads, msg.reason);
      case 'ready':
        debug.resumedExact = msg.resumedExact;
        onReady(msg.info, msg.gallery, msg.resumedFrom);
        return showLabelled(msg.labelled, msg.info);
      case 'baseline':
        debug.baseline = msg.knn;
        knnChart?.setBaseline(msg.byLayer.map((v) => v * 100));
        $('knn-value').textContent = `${(msg.knn * 100).toFixed(1)} % (untrained)`;
        return;
      case 'step':
        return onStep(msg.step, msg.stage, msg.terms, msg.imagesPerS);
      case 'eval':
        return onEval(msg);
      case 'state':
        return onState(msg.state, msg.step);
      case 'neighbours':
        return showNeighbours(msg.results);
      case 'views':
        return showViews(msg.blocks, msg.pixels, msg.testIndices);
      case 'matrices':
        return showMatrices(msg.step, msg.matrices);
      case 'attention':
        return showAttention(msg.step, msg.maps);
      case 'pseudoLabels':
        return showPseudoLabels(msg.items);
      case 'sweepProgress': {
        const name = msg.which === 'method' ? method().name : 'supervised-only';
        const text = `Label efficiency: ${msg.labels} label${msg.labels === 1 ? '' : 's'} per class (${msg.point + 1} of ${msg.total}), ${name}, step ${msg.step} / ${msg.steps}`;
        $('sweep-status').textContent = text;
        $('progress-text').textContent = text;
        const bar = $<HTMLProgressElement>('progress');
        bar.max = msg.total * 2 * msg.steps;
        bar.value = (2 * msg.point + (msg.which === 'method' ? 0 : 1)) * msg.steps + msg.step;
        return;
      }
      case 'sweepPoint':
        if (!debug.sweep) return;
        debug.sweep.points.push({ labels: msg.labels, testAcc: msg.testAcc, supervisedAcc: msg.supervisedAcc });
        if (debug.sweep.points.length === msg.total) $('sweep-status').textContent = `Done: ${msg.total} label counts, each trained twice.`;
        return drawSweep(debug.sweep.points);
      case 'error':
        if (msg.kind === 'query') for (const id of ['export-projector', 'export-weights']) $<HTMLButtonElement>(id).disabled = !info;
        if (msg.kind === 'nan') return showError(`Training paused: ${msg.message}.`);
        if (msg.kind === 'device' && backend === 'webgpu') {
          return showError(`${msg.message}`, true);
        }
        return showError(msg.message);
      case 'map':
        return showMap(msg.step, msg.layout, msg.xy, msg.labels, msg.pixels);
      case 'importProgress': {
        const bar = $<HTMLProgressElement>('own-progress');
        bar.hidden = false;
        bar.max = msg.total;
        bar.value = msg.done;
        $('own-status').textContent = `Decoding: ${msg.done} of ${msg.total} files${msg.skipped ? `, ${msg.skipped} skipped so far` : ''}…`;
        return;
      }
      case 'imported':
        return onImported(msg.name, msg.report, msg.error, msg.pack);
      case 'projectorZip':
        return onProjectorZip(msg.zip);
      case 'snapshot':
        return onSnapshot(msg.snapshot);
      case 'weights':
        debug.weightsBytes = msg.bytes.byteLength;
        $<HTMLButtonElement>('export-weights').disabled = !info;
        return download(msg.bytes as Uint8Array<ArrayBuffer>, `${runFileName()}.safetensors`, 'application/octet-stream');
      case 'timing':
        debug.timings.push({ part: msg.part, ms: msg.ms, wasmBytes: msg.wasmBytes });
        return;
      case 'deviceLost':
        lastSnapshot = msg.snapshot;
        onState('failed', msg.step);
        return showError(
          `Training paused at step ${msg.step}: ${msg.message}. ` +
            (msg.snapshot ? `You can resume on the CPU from step ${msg.snapshot.step}, the last copy of the weights.` : 'You can restart the run on the CPU.'),
          true,
        );
    }
  }

  function onHello(list: MethodInfo[], base: RunConfig, adapterInfo: AdapterInfo | null, gpuError: string | null) {
    methods = list;
    defaults = base;
    adapter = adapterInfo;
    webgpuError = gpuError;
    const select = $<HTMLSelectElement>('method');
    if (select.options.length === 0) {
      const families = [...new Set(list.map((m) => m.family))];
      for (const family of families) {
        const group = document.createElement('optgroup');
        group.label = family[0].toUpperCase() + family.slice(1);
        for (const m of list.filter((x) => x.family === family)) group.append(new Option(m.name, m.id));
        select.append(group);
      }
    }
    if (!firstHello && !resumePending) {
      // A fresh worker after Reset: the run is gone, the form stays as the user left it.
      pickBackend();
      return onState('idle', 0);
    }
    const parsed = optionsFromUrl(host.search, defaults, methods);
    const { options } = parsed;
    const problems = [...(host.problems ?? []), ...parsed.problems];
    const fromLink = firstHello;
    if (fromLink) forcedBackend = options.backend;
    if (options.embed) {
      host.frame.classList.add('embed');
      $('full-page').hidden = false;
      setFullPageLink(host.search);
    }
    if (fromLink && !probe && startProbe(options.config, options.probe === true, (options.probeDeadlineS ?? 0) * 1000 || PROBE_FIRST_STEP_DEADLINE_MS)) return;
    firstHello = false;
    pickBackend();
    if (fromLink) applyConfig(backend === 'cpu' ? lighterForCpu(options.config, new URLSearchParams(host.search)) : options.config);
    if (problems.length && fromLink) showNotice(`Some link settings were ignored: ${problems.join('; ')}.`);
    if (resumePending) {
      // "Resume on CPU": this is the fresh worker's hello; restart from the kept weights.
      resumePending = false;
      state = 'idle';
      startRun(true, resumeSnapshot ?? undefined);
    } else if (fromLink && options.autostart && state === 'idle') startRun(true);
  }

  /**
   * The CPU fallback runs in WebAssembly on a few threads at most, so its defaults are lighter: a smaller
   * batch and width, and a 5,000-image kNN bank with 1,000 test images, so that an evaluation
   * takes seconds rather than minutes. Anything the link sets explicitly is kept.
   */
  function lighterForCpu(config: RunConfig, query: URLSearchParams): RunConfig {
    const c = structuredClone(config);
    if (!query.has('batch')) c.batch_size = Math.min(c.batch_size, 64);
    if (!query.has('width')) c.width = Math.min(c.width, 16);
    if (!query.has('train_limit')) c.train_limit = c.train_limit ?? 5000;
    if (!query.has('test_limit')) c.test_limit = c.test_limit ?? 1000;
    return c;
  }

  /**
   * Before the first run, time both backends where the adapter looks like a GPU (or the link
   * says `probe=1`), unless this adapter's verdict is kept from the last week. Returns whether
   * the page now waits for the probe; its reply (`onProbe`) finishes the first hello.
   */
  function startProbe(config: RunConfig, asked: boolean, deadlineMs: number): boolean {
    if (!shouldProbe(adapter, forcedBackend, asked)) return false;
    const kept = asked || !adapter ? null : keptProbe(readStorage(probeKey(adapter, cpuThreads())), Date.now());
    if (kept) {
      probe = kept;
      debug.probe = { ...kept, kept: true };
      return false;
    }
    probing = true;
    applyConfig(config);
    onState('loading', 0);
    $('progress-text').textContent = 'Timing a few steps on WebGPU and on the CPU, to train on the faster…';
    const badge = $('backend');
    badge.textContent = 'Measuring WebGPU against the CPU…';
    badge.dataset.backend = '';
    const dataset = config.dataset === OWN_DATASET ? defaults.dataset : config.dataset;
    send({ type: 'probe', spec: { config: probeConfig(config, dataset), dataUrl: dataSource(dataset).dataUrl, deadlineMs } });
    return true;
  }

  /** localStorage, where the page may use it (a sandboxed frame may not). */
  function readStorage(key: string): string | null {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  }

  function writeStorage(key: string, value: string) {
    try {
      localStorage.setItem(key, value);
    } catch {
      // No storage here (sandboxed frame, full quota): the next visit measures again.
    }
  }

  function onProbe(result: ProbeResult) {
    if (!probing) return;
    probing = false;
    probe = result;
    debug.probe = { ...result, kept: false };
    if (adapter) writeStorage(probeKey(adapter, cpuThreads()), keepProbe(result, Date.now()));
    onState('idle', 0);
    // WebGPU work that ran past the deadline cannot be cancelled, and its continuations would
    // hold the worker's thread for seconds (6 s on SwiftShader): a fresh worker drops it. Its
    // hello finishes the first hello, with the probe's verdict.
    if (result.timings.some((t) => t.timedOut)) return spawnWorker();
    onHello(methods, defaults, adapter, webgpuError);
  }

  /** The CPU backend's threads, on its badge once a CPU session exists. */
  function onCpuThreads(threads: number, reason: string) {
    debug.cpuThreads = { threads, reason };
    if (backend !== 'cpu' || probing) return;
    const badge = $('backend');
    const base = badge.textContent?.replace(/ · \d+ threads?$/, '') ?? '';
    badge.textContent = `${base} · ${threads} thread${threads === 1 ? '' : 's'}`;
    badge.title = `${badge.title.replace(/\n\nThreads: .*$/s, '')}\n\nThreads: ${reason ? `one, because ${reason}.` : `${threads} (WebAssembly threads, the multi-threaded build).`}`;
  }

  function pickBackend() {
    const badge = $('backend');
    if (resumePending) {
      backend = 'cpu';
      badge.textContent = 'CPU backend (the GPU was lost)';
      badge.title = 'The WebGPU device stopped mid-run; the run goes on from its last snapshot on the CPU.';
    } else {
      const choice = chooseBackend(adapter, forcedBackend, webgpuError, probe);
      backend = choice.backend;
      badge.textContent = choice.badge;
      badge.title = choice.detail;
      if (choice.notice) showNotice(choice.notice);
    }
    badge.dataset.backend = backend;
    debug.backend = backend;
    debug.adapter = backend === 'webgpu' ? adapter : null;
  }

  // ---------- form ----------

  function method(): MethodInfo {
    const id = $<HTMLSelectElement>('method').value;
    return methods.find((m) => m.id === id) ?? methods[0];
  }

  function applyConfig(c: RunConfig) {
    $<HTMLSelectElement>('dataset').value = c.dataset;
    showOwnData();
    $<HTMLSelectElement>('backbone').value = c.backbone;
    $<HTMLSelectElement>('method').value = c.method;
    $<HTMLInputElement>('steps').value = String(c.steps);
    $<HTMLInputElement>('batch').value = String(c.batch_size);
    $<HTMLInputElement>('width').value = String(c.width);
    $<HTMLInputElement>('eval-every').value = String(c.eval_every || Math.max(1, Math.round(c.steps / 10)));
    $<HTMLInputElement>('labels').value = String(c.labels_per_class);
    $<HTMLInputElement>('seed').value = String(c.seed);
    $<HTMLInputElement>('lr').value = String(c.optimizer?.lr ?? method().optimizer.lr);
    hiddenLimits = { train: c.train_limit, test: c.test_limit, knnK: c.knn_k };
    renderMethod(c.params);
  }

  let hiddenLimits: { train: number | null; test: number | null; knnK: number } = { train: null, test: null, knnK: 20 };

  function renderMethod(overrides: Record<string, unknown> = {}) {
    const m = method();
    $('method-explanation').textContent = m.explanation;
    const paper = $<HTMLAnchorElement>('method-paper');
    paper.textContent = m.paper;
    paper.href = m.link;
    const semi = m.family === 'semi-supervised' || m.family === 'baseline';
    $('labels').toggleAttribute('disabled', !semi);
    $('sweep-controls').hidden = !m.uses_labels || m.id === 'supervised';
    $('labels-label').classList.toggle('muted', !semi);
    const host = $('params');
    host.replaceChildren();
    const merged = structuredClone(m.defaults);
    const flatDefaults = new Map(flatten(m.defaults));
    for (const [key, value] of flatten(overrides)) if (flatDefaults.has(key)) setDotted(merged, key, value);
    for (const [key, value] of flatten(merged)) {
      const id = `param-${key.replace(/\./g, '-')}`;
      const label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = key.replace(/_/g, ' ');
      const input = document.createElement('input');
      input.id = id;
      input.dataset.key = key;
      if (typeof value === 'boolean') {
        input.type = 'checkbox';
        input.checked = value;
      } else {
        // The default's type decides the input, so an edited link never turns a list into a number.
        const original = flatDefaults.get(key);
        input.type = typeof original === 'number' ? 'number' : 'text';
        if (input.type === 'number') input.step = 'any';
        input.value = paramText(value);
      }
      host.append(label, input);
    }
  }

  function readInt(id: string, min: number): number {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isInteger(v) || v < min) throw new Error(`${$(id).previousElementSibling?.textContent ?? id} must be a whole number ≥ ${min}`);
    return v;
  }

  /** The run described by the form; method parameters only where they differ from defaults. */
  function readConfig(): RunConfig {
    const m = method();
    const defaultsFlat = new Map(flatten(m.defaults));
    const values: [string, unknown][] = [];
    for (const input of $('params').querySelectorAll<HTMLInputElement>('input[data-key]')) {
      const key = input.dataset.key!;
      if (input.type === 'checkbox') {
        values.push([key, input.checked]);
        continue;
      }
      const parsed = parseParam(key.replace(/_/g, ' '), input.value, defaultsFlat.get(key));
      if ('error' in parsed) throw new Error(parsed.error);
      values.push([key, parsed.value]);
    }
    // Only what differs from the defaults as shown: an untouched field is never an edit.
    const params = paramOverrides(values, m.defaults);
    const lr = Number($<HTMLInputElement>('lr').value);
    if (!(lr > 0) || !Number.isFinite(lr)) throw new Error('the learning rate must be a positive number');
    const steps = readInt('steps', 1);
    const evalEvery = readInt('eval-every', 0);
    return {
      ...defaults,
      dataset: $<HTMLSelectElement>('dataset').value,
      backbone: $<HTMLSelectElement>('backbone').value,
      method: m.id,
      params,
      optimizer: lr === m.optimizer.lr ? null : { ...m.optimizer, lr },
      steps,
      batch_size: readInt('batch', 2),
      width: readInt('width', 4),
      labels_per_class: readInt('labels', 1),
      seed: readInt('seed', 0),
      eval_every: evalEvery,
      knn_k: hiddenLimits.knnK,
      train_limit: hiddenLimits.train,
      test_limit: hiddenLimits.test,
    };
  }

  function pageOptions(config: RunConfig): PageOptions {
    return { config, autostart: false, embed: host.frame.classList.contains('embed'), backend: forcedBackend };
  }

  /** The embed's link to the full page: the same run, without embed=1 and without starting it. */
  function setFullPageLink(search: string) {
    const full = new URLSearchParams(search);
    full.delete('embed');
    full.delete('autostart');
    $<HTMLAnchorElement>('full-page').href = host.linkFor(full.size ? `?${full}` : '');
  }

  function syncUrl() {
    try {
      const query = urlFromOptions(pageOptions(readConfig()), defaults, methods);
      host.showLink?.(query);
      link = host.linkFor(query);
      setFullPageLink(query);
    } catch {
      // An invalid field: the URL keeps the last valid run until it is fixed.
    }
  }

  // ---------- run lifecycle ----------

  function startRun(train: boolean, snapshot?: Snapshot, given?: RunConfig) {
    let config: RunConfig;
    try {
      config = given ?? readConfig();
    } catch (e) {
      return showError(`Cannot start: ${(e as Error).message}.`);
    }
    hideError();
    if (!snapshot) resetView();
    wantTraining = train;
    runId++;
    const spec: StartSpec = {
      config,
      ...dataSource(config.dataset),
      backend,
      galleryCount: GALLERY,
      snapshot,
    };
    send({ type: 'start', spec }, snapshot ? snapshot.tensors.map((t) => t.buffer) : []);
    onState('loading', 0);
  }

  /** Where a run's pack comes from: the site's data/ folder, or the imported images. */
  function dataSource(dataset: string): { dataUrl: string; pack?: Uint8Array; packName?: string } {
    if (dataset === OWN_DATASET) return { dataUrl: OWN_DATA_URL, pack: ownPack ?? undefined, packName: ownPackName };
    return { dataUrl: new URL(`data/${dataset}.sslp.gz`, host.assetBase).href };
  }

  // ---------- saved runs ----------

  /** The saved record of the current run, so saving it again (stopped, then finished) replaces it. */
  let savedKey: { runId: number; id: number } | null = null;
  /** A saved run being reopened: its curves go back on the charts once the session is ready. */
  let pendingRestore: SavedRun | null = null;
  let compareCharts: CompareChart[] = [];

  /** Saves in order: a second save of a run waits for the first, so it finds the record's id. */
  let saving: Promise<void> = Promise.resolve();

  function onSnapshot(snapshot: Snapshot) {
    saving = saving.then(() => saveRun(snapshot));
  }

  async function saveRun(snapshot: Snapshot) {
    if (!info) return;
    const run: SavedRun = {
      savedAt: Date.now(),
      config: info.config,
      datasetName: info.dataset.name,
      knn: debug.knn.length ? debug.knn[debug.knn.length - 1].value : null,
      step: snapshot.step,
      curves: { loss: lossChart?.dump() ?? null, ratio: ratioChart?.dump() ?? null, knn: knnChart?.dump() ?? null, collapse: collapseChart?.dump() ?? null },
      snapshot,
      ...(info.config.dataset === OWN_DATASET && ownPack ? { pack: ownPack } : {}),
    };
    if (savedKey?.runId === runId) run.id = savedKey.id;
    try {
      const id = await putRun(run);
      savedKey = { runId, id };
      debug.saved.saves++;
      $('saved-status').textContent = `Saved: ${runTitle(run)}.`;
      if (queue && state === 'done') queue.saved.push(id);
    } catch (e) {
      showError(`This run could not be saved: ${saveErrorText(e)}. Nothing else is lost: the run is still open here.`);
      queue = null;
    }
    await renderSaved();
    // A method comparison goes on once a run is finished and kept; a stopped run ends it.
    if (queue && state === 'done') runNextInQueue();
    else if (queue && state === 'stopped') queue = null;
  }

  function smallButton(text: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.addEventListener('click', onClick);
    return b;
  }

  /** List the saved runs, newest first, each with a tick box (compare), Open and Delete. */
  async function renderSaved() {
    let runs: RunSummary[];
    try {
      runs = await listRuns();
    } catch (e) {
      $('saved-status').textContent = `Saved runs are not available in this browser: ${saveErrorText(e)}`;
      return;
    }
    debug.saved.listed = runs.length;
    const list = $('saved-list');
    list.replaceChildren(
      ...runs
        .sort((a, b) => b.savedAt - a.savedAt)
        .map((r) => {
          const item = document.createElement('li');
          const tick = document.createElement('input');
          tick.type = 'checkbox';
          tick.value = String(r.id);
          tick.setAttribute('aria-label', `Compare ${runTitle(r)}`);
          tick.addEventListener('change', updateCompareButton);
          const text = document.createElement('span');
          text.textContent = `${runTitle(r)} · saved ${new Date(r.savedAt).toLocaleString()}`;
          item.append(tick, text, smallButton('Open', () => void openSaved(r.id!)), smallButton('Delete', () => void removeSaved(r.id!)));
          return item;
        }),
    );
    if (runs.length === 0) {
      const empty = document.createElement('li');
      empty.textContent = 'No saved runs yet: a run is saved here when it finishes or is stopped.';
      list.append(empty);
    }
    updateCompareButton();
  }

  function tickedRuns(): number[] {
    return Array.from(root.querySelectorAll<HTMLInputElement>('#saved-list input:checked'), (i) => Number(i.value));
  }

  function updateCompareButton() {
    $<HTMLButtonElement>('compare').disabled = tickedRuns().length < 2;
  }

  /** Reopen a saved run: its settings, weights and curves; then neighbours, the map and Train (resume) work on it. */
  async function openSaved(id: number) {
    if (state === 'training' || state === 'loading') return showError('Pause or stop the current run before opening a saved one.');
    let run: SavedRun | undefined;
    try {
      run = await getRun(id);
    } catch (e) {
      return showError(`The saved run could not be read: ${saveErrorText(e)}`);
    }
    if (!run) return showError('That saved run is no longer there; the list is refreshed.'), void renderSaved();
    if (run.config.dataset === OWN_DATASET) {
      if (!run.pack) return showError('This run trained on imported images that were not kept with it; import them again to train on them.');
      ownPack = run.pack;
      ownPackName = run.datasetName;
    }
    queue = null;
    applyConfig(run.config);
    pendingRestore = run;
    resetView();
    startRun(false, run.snapshot, run.config);
    savedKey = { runId, id };
  }

  /** Put a reopened run's curves back, after its session is ready. */
  function restoreCurves(run: SavedRun) {
    const c = run.curves;
    if (c.loss) lossChart?.load(c.loss);
    if (c.ratio) ratioChart?.load(c.ratio);
    if (c.knn) knnChart?.load(c.knn);
    if (c.collapse) collapseChart?.load(c.collapse);
    // The run's kNN, so that saving it again (stopped or finished once more) keeps it.
    if (run.knn !== null) debug.knn = [{ step: run.step, value: run.knn, layers: [] }];
    debug.saved.reopenedAt = run.step;
    debug.saved.restoredKnnPoints = c.knn?.steps.length ?? 0;
    showNotice(`Reopened: ${runTitle(run)}. Neighbours and the map use its weights; Train resumes it.`);
  }

  async function removeSaved(id: number) {
    try {
      await deleteRun(id);
    } catch (e) {
      showError(`The saved run could not be deleted: ${saveErrorText(e)}`);
    }
    if (savedKey?.id === id) savedKey = null;
    await renderSaved();
  }

  /** A method comparison in progress: the ids still to run, the saved runs so far, the shared settings. */
  let queue: { next: string[]; saved: number[]; base: RunConfig } | null = null;

  /** Train each listed method in turn on the form's data and budget; compare them when all are saved. */
  function startQueue() {
    if (state !== 'idle' && state !== 'done' && state !== 'stopped') return showError('Finish or reset the current run before comparing methods.');
    const ids = $<HTMLInputElement>('queue-methods').value.split(/[\s,]+/).filter(Boolean);
    const unknown = ids.filter((id) => !methods.some((m) => m.id === id));
    if (unknown.length) return showError(`Cannot compare methods: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a method id; the ids are ${methods.map((m) => m.id).join(', ')}.`);
    if (ids.length < 2 || new Set(ids).size !== ids.length) return showError('Cannot compare methods: list two or more different method ids.');
    let base: RunConfig;
    try {
      base = readConfig();
    } catch (e) {
      return showError(`Cannot compare methods: ${(e as Error).message}.`);
    }
    queue = { next: ids, saved: [], base };
    runNextInQueue();
  }

  function runNextInQueue() {
    if (!queue) return;
    const id = queue.next.shift();
    if (id === undefined) {
      const saved = queue.saved;
      queue = null;
      return void renderSaved().then(() => {
        for (const box of root.querySelectorAll<HTMLInputElement>('#saved-list input[type=checkbox]')) box.checked = saved.includes(Number(box.value));
        updateCompareButton();
        return compareTicked().then(() => void debug.saved.queuesDone++);
      });
    }
    // The method's own defaults and learning rate: the comparison is of methods as published.
    const config: RunConfig = { ...queue.base, method: id, params: {}, optimizer: null };
    applyConfig(config);
    $('saved-status').textContent = `Comparing methods: ${id} (${queue.saved.length + 1} of ${queue.saved.length + queue.next.length + 1})…`;
    resetView();
    startRun(true, undefined, config);
  }

  /** Overlay the ticked runs' final-layer kNN and total loss on one chart each. */
  async function compareTicked() {
    const runs = (await Promise.all(tickedRuns().map((id) => getRun(id)))).filter((r): r is SavedRun => !!r);
    for (const c of compareCharts) c.destroy();
    $('compare-charts').hidden = false;
    const label = (r: SavedRun) => `#${r.id} ${r.config.method} · ${r.config.backbone} · ${r.datasetName}`;
    const knn = runs.map((r) => ({ label: label(r), steps: r.curves.knn?.steps ?? [], values: r.curves.knn?.layers[r.curves.knn.layers.length - 1] ?? [] }));
    const loss = runs.map((r) => ({ label: label(r), steps: r.curves.loss?.steps ?? [], values: smooth(r.curves.loss?.raw.total ?? [], smoothing) }));
    compareCharts = [new CompareChart($('compare-knn'), knn, '%'), new CompareChart($('compare-loss'), loss, 'loss (smoothed)')];
    debug.saved.compared = runs.length;
  }

  // ---------- export ----------

  function exportProjector() {
    if (!info) return;
    $<HTMLButtonElement>('export-projector').disabled = true;
    $('export-status').textContent = 'Embedding the test images…';
    send({ type: 'exportProjector', id: ++requestId, limit: PROJECTOR_IMAGES });
  }

  /** Offer the zip as a download; the bytes never leave the machine. */
  function onProjectorZip(zip: Uint8Array) {
    debug.exported = zip.byteLength;
    $<HTMLButtonElement>('export-projector').disabled = !info;
    const images = Math.min(PROJECTOR_IMAGES, info?.dataset.n_test ?? 0);
    const name = `${runFileName()}-projector.zip`;
    download(zip as Uint8Array<ArrayBuffer>, name, 'application/zip');
    $('export-status').textContent = `${name}: ${images} test images, ${(zip.byteLength / 1024).toFixed(0)} kB. On projector.tensorflow.org press Load and choose its four files.`;
  }

  /** A file name for this run's exports: `simclr-fashion-mnist-step600`. */
  function runFileName(): string {
    return `${info?.config.method ?? 'run'}-${info?.dataset.name ?? 'data'}-step${lastStep}`;
  }

  /** Every curve of the run as long-format CSV: loss terms, ratios, kNN per layer, collapse checks. */
  function exportCurves() {
    const charts: ChartPoints[] = [];
    for (const [chart, c] of [['loss', lossChart], ['ratio', ratioChart], ['knn', knnChart], ['collapse', collapseChart]] as const) {
      if (c) charts.push({ chart, points: c.points() });
    }
    const csv = curvesCsv(charts);
    debug.curvesCsvRows = csv.trim().split('\n').length - 1;
    download(csv, `${runFileName()}-curves.csv`, 'text/csv');
  }

  /** The run's configuration as JSON: `sslp train --config FILE` runs the same thing natively. */
  function exportConfig() {
    const config = info?.config ?? readConfig();
    download(`${JSON.stringify(config, null, 2)}\n`, `${runFileName()}-config.json`, 'application/json');
  }

  // ---------- your own images ----------

  function showOwnData() {
    $('own-data').hidden = $<HTMLSelectElement>('dataset').value !== OWN_DATASET;
  }

  /** Send the chosen files to the worker, which decodes them in Rust. */
  function importFiles(files: ImportFile[], name: string) {
    if (files.length === 0) return showError('No files were chosen: pick a folder with one subfolder per class, some images, or a .zip.');
    if (state !== 'idle') return showError('Finish or reset the current run before importing images.');
    hideError();
    const size = Number($<HTMLSelectElement>('own-size').value);
    $('own-status').textContent = `Reading ${files.length} file${files.length === 1 ? '' : 's'}…`;
    $('own-skipped').hidden = true;
    debug.imported = null;
    send({ type: 'import', files, size, name });
  }

  function onImported(name: string, report: ImportReport | null, error: string | null, pack: Uint8Array | null) {
    debug.imported = { report, error };
    $('own-progress').hidden = true;
    const list = $('own-skipped-list');
    list.replaceChildren();
    if (!report || !pack) {
      $('own-status').textContent = `Not imported: ${error}`;
      return showError(`Your images could not be used: ${error}`);
    }
    ownPack = pack;
    ownPackName = name;
    const classes = report.classes.map(([c, n]) => `${c} (${n})`).join(', ');
    $('own-status').textContent =
      `“${name}”: ${report.train + report.test} images of ${report.size}×${report.size} px, ${report.channels === 3 ? 'colour' : 'grey'}, ` +
      `in ${report.classes.length} classes: ${classes}. ${report.train} train, ${report.test} test.` +
      (report.unlabelled ? ` ${report.unlabelled} image${report.unlabelled === 1 ? '' : 's'} outside any class folder train${report.unlabelled === 1 ? 's' : ''} too, unlabelled (kNN leaves ${report.unlabelled === 1 ? 'it' : 'them'} out).` : '') +
      (report.hidden ? ` ${report.hidden} hidden file${report.hidden === 1 ? '' : 's'} ignored.` : '') +
      ' Press Train.';
    $('own-skipped').hidden = report.skipped.length === 0;
    $('own-skipped-title').textContent = `${report.skipped.length} file${report.skipped.length === 1 ? ' was' : 's were'} not imported`;
    for (const { path, reason } of report.skipped) {
      const item = document.createElement('li');
      item.textContent = `${path}: ${reason}`;
      list.append(item);
    }
  }

  /** Start a label-efficiency sweep with the form's settings (see `sweep` in worker.ts). */
  function startSweep() {
    let config: RunConfig;
    let labels: number[];
    try {
      config = readConfig();
      labels = parseLabelCounts($<HTMLInputElement>('sweep-labels').value);
    } catch (e) {
      return showError(`Cannot compare label counts: ${(e as Error).message}.`);
    }
    hideError();
    resetView();
    wantTraining = false;
    runId++;
    debug.sweep = { points: [], total: labels.length };
    $('semi-panel').hidden = false;
    $('sweep-part').hidden = false;
    drawSweep([]);
    send({ type: 'sweep', spec: { config, labels, ...dataSource(config.dataset), backend } });
    onState('loading', 0);
  }

  /** Test accuracy against labels per class (log scale): the method and supervised-only. */
  function drawSweep(points: SweepPoint[]) {
    const [w, h, left, right, top, bottom] = [440, 220, 40, 16, 12, 34];
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const el = (name: string, attrs: Record<string, string | number>, text?: string) => {
      const e = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    const sorted = [...points].sort((a, b) => a.labels - b.labels);
    const xs = sorted.map((p) => p.labels);
    const [lo, hi] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [1, 10];
    const span = Math.log(hi) - Math.log(lo) || 1;
    const x = (n: number) => left + (xs.length > 1 ? ((Math.log(n) - Math.log(lo)) / span) * (w - left - right) : (w - left - right) / 2);
    const y = (acc: number) => top + (1 - acc) * (h - top - bottom);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      el('line', { x1: left, x2: w - right, y1: y(v), y2: y(v), stroke: '#e5e7eb' });
      el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${v * 100}`);
    }
    el('text', { x: 4, y: top + 4 }, '%');
    for (const n of xs) el('text', { x: x(n), y: h - bottom + 16, 'text-anchor': 'middle' }, String(n));
    el('text', { x: (left + w - right) / 2, y: h - 4, 'text-anchor': 'middle' }, 'labels per class');
    const series: [keyof SweepPoint, string, string][] = [
      ['testAcc', 'method', method().name],
      ['supervisedAcc', 'supervised', 'supervised-only'],
    ];
    series.forEach(([key, cls, name], i) => {
      const pts = sorted.filter((p) => p[key] !== null).map((p) => [x(p.labels), y(p[key] as number), p[key] as number]);
      if (pts.length > 1) el('polyline', { class: cls, points: pts.map(([px, py]) => `${px},${py}`).join(' ') });
      for (const [px, py, acc] of pts) {
        const dot = el('circle', { class: cls, cx: px, cy: py, r: 4 });
        const tip = document.createElementNS(ns, 'title');
        tip.textContent = `${name}: ${(acc * 100).toFixed(1)} %`;
        dot.append(tip);
      }
      el('circle', { class: cls, cx: left + 10 + i * 170, cy: top + 6, r: 4 });
      el('text', { x: left + 18 + i * 170, y: top + 10 }, name);
    });
    $('sweep-chart').replaceChildren(svg);
    $('sweep-chart').setAttribute('aria-label', `Label efficiency: ${sorted.map((p) => `${p.labels} per class: ${method().name} ${p.testAcc === null ? '–' : (p.testAcc * 100).toFixed(1)} %, supervised-only ${p.supervisedAcc === null ? '–' : (p.supervisedAcc * 100).toFixed(1)} %`).join('; ') || 'no point yet'}`);
  }

  function resetView() {
    $<HTMLButtonElement>('export-projector').disabled = true;
    $<HTMLButtonElement>('export-curves').disabled = true;
    $<HTMLButtonElement>('export-weights').disabled = true;
    $('export-status').textContent = '';
    lossChart?.destroy();
    ratioChart?.destroy();
    knnChart?.destroy();
    collapseChart?.destroy();
    lossChart = ratioChart = knnChart = collapseChart = null;
    currentStage = '';
    $('collapse-chart').replaceChildren();
    $('loss-chart').replaceChildren();
    $('ratio-chart').replaceChildren();
    $('knn-chart').replaceChildren();
    $('gallery').replaceChildren();
    $('neighbours').replaceChildren();
    $('query').replaceChildren();
    $('views').replaceChildren();
    debug.views = null;
    viewTestImages = [];
    $('knn-value').textContent = '–';
    $('collapse-value').textContent = '–';
    debug.collapse = [];
    debug.metrics = [];
    $('matrices').replaceChildren();
    $('matrices-section').hidden = true;
    debug.matrices = [];
    $('attention').replaceChildren();
    $('attention-section').hidden = true;
    debug.attention = null;
    mapView.clear();
    mapImages = null;
    $('map-legend').replaceChildren();
    $('map-step').textContent = '';
    $('map-tip').hidden = true;
    $('map').setAttribute('aria-label', 'Embedding map: no evaluation yet');
    debug.map = null;
    galleryThumbs.clear();
    for (const id of ['labelled', 'confusion', 'pseudo-labels']) $(id).replaceChildren();
    $('semi-panel').hidden = true;
    for (const id of ['sweep-part', 'labelled-part', 'confusion-part', 'pseudo-part']) $(id).hidden = true;
    $('sweep-chart').replaceChildren();
    debug.sweep = null;
    debug.labelled = 0;
    debug.confusion = null;
    debug.pseudoLabels = null;
    info = null;
    stepRate = new Ema(0.9);
    lastStep = 0;
    debug.loss = [];
    debug.stepNumbers = [];
    debug.knn = [];
    debug.baseline = null;
    debug.steps = 0;
    debug.neighbours = 0;
    debug.trainingStartedAt = null;
    updateProgress(0);
  }

  function onReady(sessionInfo: SessionInfo, gallery: Thumb[], resumedFrom: number | null) {
    $<HTMLButtonElement>('export-projector').disabled = false;
    $<HTMLButtonElement>('export-curves').disabled = false;
    $<HTMLButtonElement>('export-weights').disabled = false;
    // Attention maps may arrive before the gallery is drawn; they find their images here.
    galleryThumbs.clear();
    for (const t of gallery) galleryThumbs.set(t.index, t);
    if (resumedFrom !== null && lossChart && knnChart) {
      // Resumed after a lost GPU: keep the curves, minus the steps after the snapshot.
      info = sessionInfo;
      lossChart.truncateAfter(resumedFrom);
      ratioChart?.truncateAfter(resumedFrom);
      knnChart.truncateAfter(resumedFrom);
      collapseChart?.truncateAfter(resumedFrom);
      debug.loss.length = resumedFrom;
      debug.stepNumbers = debug.stepNumbers.filter((n) => n <= resumedFrom);
      debug.knn = debug.knn.filter((k) => k.step <= resumedFrom);
      lastStep = resumedFrom;
      updateProgress(lastStep);
      showNotice(`Resumed on the CPU backend from step ${resumedFrom}, the last copy of the weights. Optimizer momentum restarts.`);
      setTimeout(() => info === sessionInfo && renderGallery(gallery, sessionInfo), 0);
      return requestViews();
    }
    info = sessionInfo;
    // Curves go to a chart by their tag: losses on one, ratios and accuracies on the [0, 1] one.
    const curves = sessionInfo.method.curves;
    const losses = curves.filter((c) => c.tag === 'loss').map((c) => c.name);
    const ratios = curves.filter((c) => c.tag !== 'loss').map((c) => c.name);
    lossChart = new TermChart($('loss-chart'), losses, 'loss', smoothing);
    $('ratio-chart').hidden = ratios.length === 0;
    ratioChart = ratios.length ? new TermChart($('ratio-chart'), ratios, 'ratio', smoothing, [0, 1]) : null;
    const extra = sessionInfo.method.uses_labels ? 'classifier test acc %' : sessionInfo.method.family === 'pretext' ? 'pretext acc %' : null;
    knnChart = new KnnChart($('knn-chart'), extra, sessionInfo.layers);
    collapseChart = new TermChart($('collapse-chart'), COLLAPSE_SERIES, 'of spread', 0, [0, 1.05]);
    viewTestImages = previewsTestImages(sessionInfo) ? gallery.slice(0, VIEW_IMAGES).map((g) => g.index) : [];
    $('views-caption').textContent = viewTestImages.length ? TEST_VIEWS_CAPTION : VIEWS_CAPTION;
    // The gallery's 48 canvases go in the next task, so no single task grows long.
    setTimeout(() => info === sessionInfo && renderGallery(gallery, sessionInfo), 0);
    lastStep = resumedFrom ?? 0;
    updateProgress(lastStep);
    if (pendingRestore) {
      restoreCurves(pendingRestore);
      pendingRestore = null;
    }
    requestViews();
  }

  function onState(next: RunState, step: number) {
    state = next;
    debug.state = next;
    if (next === 'paused' && wantTraining) {
      wantTraining = false;
      send({ type: 'train' });
    }
    if (next === 'training' && debug.trainingStartedAt === null) debug.trainingStartedAt = performance.now();
    if (next === 'failed') {
      queue = null;
      pendingRestore = null;
    }
    // Keep every finished or stopped run (not the sweeps' runs, which are many and short).
    if ((next === 'done' || next === 'stopped') && step > 0 && info && !debug.sweep) send({ type: 'snapshot', id: ++requestId });
    if (next === 'done' && debug.sweep && debug.sweep.points.length < debug.sweep.total) {
      $('sweep-status').textContent = `Stopped after ${debug.sweep.points.length} of ${debug.sweep.total} label counts.`;
    }
    const has = (s: RunState[]) => s.includes(next);
    $<HTMLButtonElement>('train').disabled = has(['loading', 'training', 'done', 'failed']);
    $<HTMLButtonElement>('train').textContent = has(['paused', 'stopped']) && step > 0 ? 'Resume' : 'Train';
    $<HTMLButtonElement>('pause').disabled = next !== 'training';
    $<HTMLButtonElement>('stop').disabled = !has(['training', 'paused']);
    // Reset works in every state but idle, so a run that hangs while loading can be abandoned.
    $<HTMLButtonElement>('reset').disabled = next === 'idle';
    $<HTMLButtonElement>('views-refresh').disabled = !info || next === 'failed';
    for (const id of ['dataset', 'backbone', 'method', 'steps', 'batch', 'width', 'lr', 'eval-every', 'labels', 'seed']) {
      $(id).toggleAttribute('disabled', next !== 'idle' || (id === 'labels' && !method().uses_labels));
    }
    for (const input of $('params').querySelectorAll('input')) input.toggleAttribute('disabled', next !== 'idle');
    $<HTMLButtonElement>('sweep').disabled = next !== 'idle';
    $<HTMLInputElement>('sweep-labels').disabled = next !== 'idle';
    if (next === 'loading') $('progress-text').textContent = 'Loading the dataset and building the model…';
    else updateProgress(step);
  }

  function onStep(step: number, stage: string, terms: Record<string, number | null>, imagesPerS: number) {
    if (lastStep > 0 || step === 1) stepRate.push(imagesPerS);
    lastStep = step;
    currentStage = stage;
    debug.steps = step;
    debug.stepNumbers.push(step);
    debug.loss.push(terms.total ?? null);
    lossChart?.push(step, terms);
    ratioChart?.push(step, terms);
    scheduleRedraw();
    updateProgress(step);
  }

  function onEval(msg: Extract<FromWorker, { type: 'eval' }>) {
    const { step, knn, testAcc, pretextAcc, embeddingStd: std, effectiveRank: rank, rankLimit, embeddingDim: dim } = msg;
    debug.knn.push({ step, value: knn, layers: msg.knnByLayer });
    debug.collapse.push({ step, std, rank });
    debug.metrics.push({ step, stage: msg.stage, metrics: msg.metrics });
    // MaskFeat's preview includes the model's predicted HOG: redraw it with the current model.
    if (info && previewsTestImages(info)) requestViews();
    // Both on one [0, 1] scale: std·√D is 1 for a spread embedding, rank/limit is 1 at full
    // rank (the limit is D, or fewer when fewer images were embedded); both fall towards 0 as
    // it collapses.
    collapseChart?.push(step, { [COLLAPSE_SERIES[0]]: std === null ? null : std * Math.sqrt(dim), [COLLAPSE_SERIES[1]]: rank === null ? null : rank / rankLimit });
    collapseChart?.redraw();
    // Collapse, made visible: a spread embedding of D dimensions has std ≈ 1/√D and rank up
    // to D; a collapsed one has std 0 and rank 1.
    const rankOf = rankLimit === dim ? `${dim}` : `${rankLimit} possible (D = ${dim})`;
    $('collapse-value').textContent =
      std === null ? '–' : `std ${std.toFixed(3)} (spread ≈ ${(1 / Math.sqrt(dim)).toFixed(3)}) · effective rank ${rank === null ? '–' : rank.toFixed(1)} of ${rankOf}`;
    if (msg.confusion) showConfusion(msg.confusion);
    const extra = testAcc ?? pretextAcc;
    knnChart?.push(step, msg.knnByLayer.map((v) => v * 100), extra === null ? null : extra * 100);
    const base = debug.baseline === null ? '' : ` (untrained ${(debug.baseline * 100).toFixed(1)} %)`;
    const more =
      (testAcc !== null ? ` · classifier ${(testAcc * 100).toFixed(1)} %` : pretextAcc !== null ? ` · pretext ${(pretextAcc * 100).toFixed(1)} %` : '') +
      msg.metrics.map((m) => ` · ${m.name.replace(/_/g, ' ')} ${m.value === null ? '–' : m.tag === 'loss' ? m.value.toFixed(3) : `${(m.value * 100).toFixed(1)} %`}`).join('');
    // Name the best layer when it is not the last (pretext features often peak in the middle).
    const layers = info?.layers ?? [];
    const bestAt = msg.knnByLayer.indexOf(Math.max(...msg.knnByLayer));
    const best = bestAt >= 0 && bestAt < layers.length - 1 ? ` · best layer ${layers[bestAt]} ${(msg.knnByLayer[bestAt] * 100).toFixed(1)} %` : '';
    $('knn-value').textContent = `${(knn * 100).toFixed(1)} %${base}${best}${more}`;
  }

  function updateProgress(step: number) {
    const total = info?.config.steps ?? Number($<HTMLInputElement>('steps').value);
    const bar = $<HTMLProgressElement>('progress');
    bar.max = total;
    bar.value = step;
    if (!info) {
      $('progress-text').textContent = state === 'idle' ? 'Not started.' : '';
      return;
    }
    const ips = stepRate.value;
    const perStep = info.images_per_step;
    const eta = Number.isFinite(ips) && ips > 0 ? ((total - step) * perStep) / ips : NaN;
    const words: Record<RunState, string> = { idle: '', loading: 'loading', training: 'training', paused: step > 0 ? 'paused' : 'ready', stopped: 'stopped', done: 'done', failed: 'stopped by an error' };
    const stages = info.stages;
    const stageIndex = stages.findIndex((s) => s.name === currentStage);
    const stageText = stages.length > 1 && stageIndex >= 0 ? ` · stage ${stageIndex + 1} of ${stages.length}: ${currentStage}` : '';
    $('progress-text').textContent =
      `Step ${step} / ${total} · ${words[state]}` +
      stageText +
      (Number.isFinite(ips) ? ` · ${ips.toFixed(ips < 10 ? 1 : 0)} images/s` : '') +
      (state === 'training' && Number.isFinite(eta) ? ` · ETA ${formatDuration(eta)}` : '') +
      ` · ${info.backend === 'webgpu' ? 'WebGPU' : 'CPU'} · ${(info.num_params / 1000).toFixed(0)}k parameters`;
  }

  let redrawQueued = false;
  function scheduleRedraw() {
    if (redrawQueued) return;
    redrawQueued = true;
    requestAnimationFrame(() => {
      redrawQueued = false;
      const t0 = performance.now();
      lossChart?.redraw();
      ratioChart?.redraw();
      queueMicrotask(() => {
        const ms = performance.now() - t0;
        if (ms >= 20) debug.slowMessages.push(['redraw', Math.round(ms), Math.round(t0)]);
      });
    });
  }

  // ---------- images ----------

  function drawImage(pixels: ArrayLike<number>, c: number, h: number, w: number, scale255: boolean): HTMLCanvasElement {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(w, h);
    const k = scale255 ? 255 : 1;
    for (let i = 0; i < h * w; i++) {
      const r = pixels[i] * k;
      const g = c === 3 ? pixels[h * w + i] * k : r;
      const b = c === 3 ? pixels[2 * h * w + i] * k : r;
      img.data[4 * i] = r;
      img.data[4 * i + 1] = g;
      img.data[4 * i + 2] = b;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  function renderGallery(gallery: Thumb[], s: SessionInfo) {
    const host = $('gallery');
    host.replaceChildren();
    const { channels: c, height: h, width: w, class_names: names } = s.dataset;
    for (const t of gallery) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'thumb';
      button.setAttribute('role', 'listitem');
      button.setAttribute('aria-label', `Test image ${t.index}, ${names[t.label]}: show its nearest neighbours`);
      button.title = `test #${t.index}: ${names[t.label]}`;
      button.append(drawImage(t.pixels, c, h, w, false));
      button.dataset.index = String(t.index);
      button.addEventListener('click', () => selectTestImage(t, s));
      host.append(button);
    }
  }

  /**
   * A test image was chosen (in the gallery or on the embedding map): its nearest neighbours,
   * its attention maps (`vit-tiny`) and, for MaskFeat, its views.
   */
  function selectTestImage(t: Thumb, s: SessionInfo) {
    const { channels: c, height: h, width: w } = s.dataset;
    const host = $('gallery');
    host.querySelectorAll('.thumb.selected').forEach((b) => b.classList.remove('selected'));
    host.querySelector(`.thumb[data-index="${t.index}"]`)?.classList.add('selected');
    queryNeighbours({ kind: 'test', index: t.index }, t.label, drawImage(t.pixels, c, h, w, false));
    if (s.config.backbone === 'vit-tiny') {
      // The chosen image first, then the gallery's first ones, as many as before.
      const others = [...galleryThumbs.keys()].slice(0, ATTENTION_IMAGES).filter((i) => i !== t.index);
      send({ type: 'attention', indices: [t.index, ...others].slice(0, ATTENTION_IMAGES) });
    }
    if (previewsTestImages(s)) {
      viewTestImages = [t.index, ...viewTestImages.filter((i) => i !== t.index)].slice(0, VIEW_IMAGES);
      requestViews();
    }
  }

  // ---------- embedding map ----------

  /** The map's test images: pixels `[n, c, h, w]` and labels, from the run's first map. */
  let mapImages: { pixels: Uint8Array; labels: Uint8Array } | null = null;

  /** One test image of the map as a thumbnail record. */
  function mapThumb(index: number): Thumb | null {
    if (!info || !mapImages) return null;
    const { channels: c, height: h, width: w } = info.dataset;
    const size = c * h * w;
    if ((index + 1) * size > mapImages.pixels.length) return null;
    return { index, label: mapImages.labels[index], pixels: mapImages.pixels.subarray(index * size, (index + 1) * size) };
  }

  function onMapHover(point: MapPoint | null, x: number, y: number) {
    const tip = $('map-tip');
    const t = point && info ? mapThumb(point.index) : null;
    if (debug.map) debug.map.hovered = t ? t.index : null;
    if (!t || !info) {
      tip.hidden = true;
      return;
    }
    const { channels: c, height: h, width: w, class_names: names } = info.dataset;
    const caption = document.createElement('span');
    caption.textContent = `#${t.index} ${names[t.label]}`;
    tip.replaceChildren(drawImage(t.pixels, c, h, w, false), caption);
    tip.hidden = false;
    const box = $('map').clientWidth;
    // Beside the pointer, on the side with room.
    tip.style.left = `${x + 12 + 80 > box ? x - 12 - 80 : x + 12}px`;
    tip.style.top = `${Math.max(0, y - 40)}px`;
  }

  function onMapPick(point: MapPoint) {
    const t = mapThumb(point.index);
    if (t && info) selectTestImage(t, info);
  }

  const mapView = new EmbeddingMapView($<HTMLCanvasElement>('map'), onMapHover, onMapPick);

  function showMap(step: number, layout: MapLayout, xy: Float32Array, labels: Uint8Array | null, pixels: Uint8Array | null) {
    if (!info) return;
    $('map-layout').setAttribute('aria-pressed', String(layout === 'umap'));
    if (labels && pixels) {
      mapImages = { pixels, labels };
      const names = info.dataset.class_names;
      $('map-legend').replaceChildren(
        ...names.map((name, k) => {
          const item = document.createElement('span');
          item.textContent = name;
          item.style.setProperty('--dot', classColour(k));
          return item;
        }),
      );
    }
    mapView.update(xy, labels);
    const points = xy.length / 2;
    $('map-step').textContent = `(step ${step}, ${layout === 'umap' ? 'UMAP' : 'PCA'})`;
    $('map').setAttribute('aria-label', `Embedding map (${layout === 'umap' ? 'UMAP' : 'PCA'}) at step ${step}: ${points} test images, coloured by class`);
    debug.map = { step, points, layout, updates: (debug.map?.updates ?? 0) + 1, hovered: debug.map?.hovered ?? null };
  }

  // ---------- attention maps (vit-tiny) ----------


  /** Dark blue → red → yellow for v in [0, 1] (the same ramp as `sslp --attention-maps`). */
  function heat(v: number): [number, number, number] {
    const x = Math.max(0, Math.min(1, v));
    return [Math.min(1, 1.5 * x), Math.max(0, Math.min(1, 2 * x - 1)), Math.max(0, 0.5 - x) * 0.8];
  }

  /**
   * One map laid over its image: each pixel mixes the image's grey with the heat of its patch's
   * weight, scaled to the map's own largest weight (as DINO's figures are). Pixels past the last
   * whole 4×4 patch (a side 4 does not divide) show no heat.
   */
  function drawOverlay(t: Thumb, map: number[], rows: number, cols: number, c: number, h: number, w: number): HTMLCanvasElement {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(w, h);
    const peak = Math.max(...map, Number.MIN_VALUE);
    const patch = Math.floor(h / rows);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const grey = (c === 3 ? (t.pixels[i] + t.pixels[h * w + i] + t.pixels[2 * h * w + i]) / 3 : t.pixels[i]) / 255;
        const r = Math.floor(y / patch);
        const col = Math.floor(x / patch);
        const v = r < rows && col < cols ? map[r * cols + col] / peak : 0;
        const hot = heat(v);
        for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * (0.35 * grey + 0.65 * hot[k]));
        img.data[4 * i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  /** Each test image beside its class token's attention in the last block: one map per head, then their mean. */
  function showAttention(step: number, maps: AttentionMaps[]) {
    if (!info) return;
    const { channels: c, height: h, width: w, class_names: names } = info.dataset;
    const host = $('attention');
    host.replaceChildren();
    const uniform = maps.length ? Math.log(maps[0].rows * maps[0].cols) : 0;
    for (const m of maps) {
      const t = galleryThumbs.get(m.index);
      if (!t) continue;
      const row = document.createElement('div');
      row.className = 'attention-row';
      row.setAttribute('role', 'listitem');
      const panels: [string, HTMLCanvasElement][] = [[`test #${m.index}`, drawImage(t.pixels, c, h, w, false)]];
      m.heads.forEach((map, k) => panels.push([`head ${k + 1}`, drawOverlay(t, map, m.rows, m.cols, c, h, w)]));
      panels.push(['mean', drawOverlay(t, m.mean, m.rows, m.cols, c, h, w)]);
      for (const [label, canvas] of panels) {
        const fig = document.createElement('figure');
        const cap = document.createElement('figcaption');
        cap.textContent = label;
        canvas.className = 'attention-map';
        fig.append(canvas, cap);
        row.append(fig);
      }
      const note = document.createElement('span');
      note.className = 'muted';
      note.textContent = `${names[t.label]} · entropy ${m.entropy.toFixed(2)} of ${uniform.toFixed(2)} nats (uniform)`;
      row.title = `Where the class token looks in the last block, at step ${step}. Lower entropy: more focused attention; ${uniform.toFixed(2)} nats would be attention spread evenly over all ${m.rows * m.cols} patches.`;
      row.append(note);
      host.append(row);
    }
    $('attention-step').textContent = `step ${step}`;
    $('attention-section').hidden = maps.length === 0;
    debug.attention = {
      step,
      images: maps.map((m) => m.index),
      heads: maps[0]?.heads.length ?? 0,
      entropy: maps.map((m) => m.entropy),
      uniform,
      spread: maps.map((m) => Math.max(...m.mean) / Math.max(Math.min(...m.mean), Number.MIN_VALUE)),
    };
  }

  // ---------- semi-supervised: labelled subset, confusion matrix, pseudo-labels ----------

  /** The labelled images, one row per class, so a learner sees exactly what carries a label. */
  function showLabelled(thumbs: Thumb[], s: SessionInfo) {
    const host = $('labelled');
    host.replaceChildren();
    debug.labelled = thumbs.length;
    $('semi-panel').hidden = thumbs.length === 0;
    $('labelled-part').hidden = thumbs.length === 0;
    if (thumbs.length === 0) return;
    const { channels: c, height: h, width: w, class_names: names } = s.dataset;
    $('labelled-caption').textContent =
      `Only these ${thumbs.length} of ${(s.dataset.n_train + s.dataset.n_unlabelled).toLocaleString('en')} training images carry a label (${s.config.labels_per_class} per class, drawn with seed ${s.config.seed}); the model sees every other one without its label.`;
    names.forEach((name, label) => {
      const row = document.createElement('div');
      row.className = 'class-row';
      const title = document.createElement('span');
      title.textContent = name;
      title.title = name;
      const images = document.createElement('div');
      images.setAttribute('role', 'list');
      images.setAttribute('aria-label', `labelled images of class ${name}`);
      for (const t of thumbs.filter((x) => x.label === label)) {
        const canvas = drawImage(t.pixels, c, h, w, false);
        canvas.title = `train #${t.index}: ${name}`;
        canvas.setAttribute('role', 'listitem');
        canvas.className = 'thumb-canvas';
        images.append(canvas);
      }
      row.append(title, images);
      host.append(row);
    });
  }

  /** Test predictions as a K×K table: counts shaded by their share of the row (the true class). */
  function showConfusion(counts: number[]) {
    if (!info) return;
    const names = info.dataset.class_names;
    const k = names.length;
    if (counts.length !== k * k) return;
    const table = document.createElement('table');
    table.className = 'confusion';
    const head = table.createTHead().insertRow();
    head.append(Object.assign(document.createElement('th'), { textContent: 'true ╲ predicted' }));
    for (const name of names) head.append(Object.assign(document.createElement('th'), { textContent: name.slice(0, 6), title: name }));
    const body = table.createTBody();
    let total = 0;
    let correct = 0;
    for (let r = 0; r < k; r++) {
      const row = body.insertRow();
      row.append(Object.assign(document.createElement('th'), { className: 'row', textContent: names[r], title: names[r] }));
      const rowSum = counts.slice(r * k, r * k + k).reduce((a, b) => a + b, 0);
      for (let col = 0; col < k; col++) {
        const v = counts[r * k + col];
        total += v;
        if (r === col) correct += v;
        const share = rowSum > 0 ? v / rowSum : 0;
        const cell = row.insertCell();
        cell.textContent = String(v);
        cell.title = `${v} ${names[r]} image${v === 1 ? '' : 's'} classified as ${names[col]} (${(share * 100).toFixed(1)} % of the row)`;
        // Right answers in green, confusions in red; stronger where the share is larger.
        cell.style.background = r === col ? `rgba(22, 163, 74, ${share * 0.8})` : `rgba(185, 28, 28, ${Math.min(1, share * 3) * 0.8})`;
      }
    }
    $('confusion').replaceChildren(table);
    $('semi-panel').hidden = false;
    $('confusion-part').hidden = false;
    debug.confusion = { classes: k, total, correct };
  }

  function showPseudoLabels(items: (PseudoLabel & { pixels: Uint8Array })[]) {
    if (!info) return;
    const { channels: c, height: h, width: w, class_names: names } = info.dataset;
    let wrong = 0;
    $('pseudo-labels').replaceChildren(
      ...items.map((g) => {
        const right = g.predicted === g.truth;
        if (!right) wrong++;
        const fig = document.createElement('figure');
        fig.className = `thumb neighbour${right ? '' : ' wrong'}`;
        fig.setAttribute('role', 'listitem');
        const cap = document.createElement('figcaption');
        cap.textContent = `${right ? '' : '✗ '}${names[g.predicted]} · ${(g.confidence * 100).toFixed(0)} %${right ? '' : ` (is ${names[g.truth]})`}`;
        fig.append(drawImage(g.pixels, c, h, w, false), cap);
        fig.title = `train #${g.index}: guessed ${names[g.predicted]} with probability ${g.confidence.toFixed(3)}; true class ${names[g.truth]}`;
        return fig;
      }),
    );
    debug.pseudoLabels = { shown: items.length, wrong };
    $('pseudo-part').hidden = items.length === 0;
  }

  let queryLabel: number | null = null;
  function queryNeighbours(query: { kind: 'test'; index: number } | { kind: 'image'; pixels: Float32Array }, label: number | null, preview: HTMLCanvasElement) {
    if (!info) return showError('Start a run first: the neighbours are found with the model being trained.');
    queryLabel = label;
    const q = $('query');
    const caption = document.createElement('span');
    caption.textContent = label === null ? 'Your image' : `Query: ${info.dataset.class_names[label]}`;
    preview.className = 'query-image';
    q.replaceChildren(preview, caption);
    $('neighbours').setAttribute('aria-busy', 'true');
    send({ type: 'neighbours', id: ++requestId, query, k: NEIGHBOURS_K }, query.kind === 'image' ? [query.pixels.buffer] : []);
  }

  function showNeighbours(results: (Neighbour & { pixels: Uint8Array })[]) {
    if (!info) return;
    const { channels: c, height: h, width: w, class_names: names } = info.dataset;
    const host = $('neighbours');
    host.removeAttribute('aria-busy');
    host.replaceChildren(
      ...results.map((n) => {
        const same = queryLabel !== null && n.label === queryLabel;
        const fig = document.createElement('figure');
        fig.className = `thumb neighbour${same ? ' same' : ''}`;
        fig.setAttribute('role', 'listitem');
        const cap = document.createElement('figcaption');
        cap.textContent = `${same ? '✓ ' : ''}${names[n.label]} · ${n.similarity.toFixed(3)}`;
        fig.append(drawImage(n.pixels, c, h, w, false), cap);
        fig.title = `train #${n.index}: ${names[n.label]}, cosine similarity ${n.similarity.toFixed(3)}`;
        return fig;
      }),
    );
    debug.neighbours = results.length;
  }

  async function onUserImage(file: File) {
    if (!info) return showError('Start a run first: the neighbours are found with the model being trained.');
    try {
      const { pixels, preview } = await imageFileToPixels(file, info.dataset.channels, info.dataset.height, info.dataset.width);
      queryNeighbours({ kind: 'image', pixels }, null, preview);
    } catch (e) {
      showError((e as Error).message);
    }
  }

  function requestViews() {
    if (!info) return;
    send({ type: 'views', id: ++requestId, n: VIEW_IMAGES, testIndices: viewTestImages });
  }

  function showViews(blocks: ViewBlock[], pixels: Float32Array, testImages: number[]) {
    const host = $('views');
    host.replaceChildren();
    debug.views = { testImages, rows: blocks.map((b) => b.name), perRow: blocks.map((b) => b.n) };
    let offset = 0;
    for (const b of blocks) {
      const row = document.createElement('div');
      row.className = 'view-row';
      const name = document.createElement('span');
      name.className = 'view-name';
      name.textContent = b.name;
      row.append(name);
      const size = b.channels * b.height * b.width;
      for (let i = 0; i < b.n; i++) {
        const canvas = drawImage(pixels.subarray(offset + i * size, offset + (i + 1) * size), b.channels, b.height, b.width, true);
        canvas.className = 'view-image';
        row.append(canvas);
      }
      offset += b.n * size;
      host.append(row);
    }
  }

  /**
   * Heat maps of a method's matrices (Barlow Twins' cross-correlation): −1 blue, 0 white, +1
   * red, one pixel per entry scaled up by CSS. The goal for Barlow Twins is a red diagonal on
   * white.
   */
  function showMatrices(step: number, matrices: Matrix[]) {
    const host = $('matrices');
    host.replaceChildren();
    for (const m of matrices) {
      const canvas = document.createElement('canvas');
      canvas.width = m.cols;
      canvas.height = m.rows;
      canvas.className = 'heatmap';
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `${m.name} at step ${step}: ${m.rows}×${m.cols}, red +1, white 0, blue −1`);
      const ctx = canvas.getContext('2d')!;
      const img = ctx.createImageData(m.cols, m.rows);
      for (let i = 0; i < m.rows * m.cols; i++) {
        const v = Math.max(-1, Math.min(1, m.values[i]));
        const fade = Math.round(255 * (1 - Math.abs(v)));
        img.data[4 * i] = v > 0 ? 255 : fade;
        img.data[4 * i + 1] = fade;
        img.data[4 * i + 2] = v < 0 ? 255 : fade;
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      const caption = document.createElement('figcaption');
      caption.textContent = `${m.name}, step ${step} (${m.rows}×${m.cols}; red +1, white 0, blue −1)`;
      const figure = document.createElement('figure');
      figure.append(canvas, caption);
      host.append(figure);
    }
    $('matrices-section').hidden = matrices.length === 0;
    debug.matrices = matrices.map((m) => `${m.name} ${m.rows}×${m.cols}`);
  }

  // ---------- messages to the user ----------

  function showError(text: string, offerCpu = false) {
    debug.errors.push(text);
    $('error-text').textContent = text;
    $('resume-cpu').hidden = !offerCpu;
    $('error').hidden = false;
  }

  function hideError() {
    $('error').hidden = true;
  }

  function showNotice(text: string) {
    const n = $('notice');
    n.textContent = text;
    n.title = text; // the embed shows one line of it; the whole text on hover
    n.hidden = false;
  }

  // ---------- wiring ----------

  /** A drop target that is also a button: Enter or Space runs `activate`, a drop calls `onDrop`. */
  function dropZone(zone: HTMLElement, activate: () => void, onDrop: (transfer: DataTransfer) => void) {
    zone.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        activate();
      }
    });
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      if (e.dataTransfer) onDrop(e.dataTransfer);
    });
  }

  function wire() {
    $('train').addEventListener('click', () => {
      if (state === 'idle') startRun(true);
      else send({ type: 'train' });
    });
    $('pause').addEventListener('click', () => send({ type: 'pause' }));
    $('stop').addEventListener('click', () => send({ type: 'stop' }));
    $('reset').addEventListener('click', () => {
      // A fresh worker, whatever state the old one was in: Train comes back with its hello.
      queue = null;
      pendingRestore = null;
      resetView();
      hideError();
      runId++;
      wantTraining = false;
      onState('loading', 0);
      $('progress-text').textContent = 'Starting a fresh training worker…';
      spawnWorker();
    });
    $('resume-cpu').addEventListener('click', () => {
      const snapshot = lastSnapshot ?? undefined;
      lastSnapshot = null;
      forcedBackend = 'cpu';
      resumeSnapshot = snapshot ?? null;
      resumePending = true;
      hideError();
      spawnWorker();
    });
    $('error-close').addEventListener('click', hideError);
    $('share').addEventListener('click', async () => {
      syncUrl();
      try {
        await navigator.clipboard.writeText(link);
        showNotice('Link copied: it reproduces this run.');
      } catch {
        showNotice(`Link to this run: ${link}`);
      }
    });
    $('method').addEventListener('change', () => {
      $<HTMLInputElement>('lr').value = String(method().optimizer.lr);
      renderMethod();
      syncUrl();
    });
    $('setup-title').closest('section')!.addEventListener('change', syncUrl);
    $('dataset').addEventListener('change', showOwnData);
    $('export-projector').addEventListener('click', exportProjector);
    $('compare').addEventListener('click', () => void compareTicked());
    $('queue-run').addEventListener('click', startQueue);
    $('map-layout').addEventListener('click', () => {
      const next: MapLayout = $('map-layout').getAttribute('aria-pressed') === 'true' ? 'pca' : 'umap';
      $('map-layout').setAttribute('aria-pressed', String(next === 'umap'));
      $('map-step').textContent = next === 'umap' ? '(computing UMAP…)' : '(computing PCA…)';
      send({ type: 'mapLayout', layout: next });
    });
    $('export-curves').addEventListener('click', exportCurves);
    $('export-weights').addEventListener('click', () => {
      $<HTMLButtonElement>('export-weights').disabled = true;
      send({ type: 'exportWeights', id: ++requestId });
    });
    $('export-config').addEventListener('click', exportConfig);
    for (const id of ['own-folder', 'own-files']) {
      const input = $<HTMLInputElement>(id);
      input.addEventListener('change', () => {
        if (input.files?.length) importFiles(filesFromInput(input.files), importName(input.files, 'my images'));
        input.value = '';
      });
    }
    dropZone($('own-drop'), () => $('own-folder').click(), (transfer) => {
      const name = importName(transfer.files, 'my images');
      filesFromDrop(transfer).then(
        (files) => importFiles(files, name),
        (err) => showError(`The dropped files could not be read (${(err as Error).message}). Try the Choose buttons instead.`),
      );
    });
    const slider = $<HTMLInputElement>('smoothing');
    slider.addEventListener('input', () => {
      smoothing = Number(slider.value);
      $('smoothing-value').textContent = smoothing.toFixed(2);
      lossChart?.setSmoothing(smoothing);
      ratioChart?.setSmoothing(smoothing);
    });
    $('views-refresh').addEventListener('click', requestViews);
    $('sweep').addEventListener('click', () => {
      if (state === 'idle') startSweep();
    });
    const file = $<HTMLInputElement>('file');
    file.addEventListener('change', () => {
      if (file.files?.[0]) void onUserImage(file.files[0]);
      file.value = '';
    });
    dropZone($('drop'), () => file.click(), (transfer) => {
      const f = transfer.files?.[0];
      if (f) void onUserImage(f);
    });
  }

  // The site's files are beside the script, not beside a course page that embeds it.
  $<HTMLAnchorElement>('attribution').href = new URL('data/ATTRIBUTION.md', host.assetBase).href;
  wire();
  spawnWorker();
  void renderSaved();
  return {
    debug,
    simulateDeviceLoss: () => send({ type: 'simulateDeviceLoss' }),
    killWorker: () => worker.terminate(),
    mapPoint: (i) => mapView.pointAt(i),
    destroy: () => worker?.terminate(),
  };
}
