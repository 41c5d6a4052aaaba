// The typed messages between the page and its training worker. Training runs in the worker;
// the page only sends commands and draws what comes back. Per step the worker sends a
// handful of numbers (the loss terms, lr, images/s), so a long run never floods the page.

// The types below mirror the Rust ones. src/generated/contract.ts assigns a real value of each
// Rust type (written by tests/types.rs) to its type here, so a renamed field fails the build.

/** Mirror of the Rust `RunConfig` (src/config.rs); unknown keys are rejected there. */
export interface RunConfig {
  dataset: string;
  backbone: string;
  width: number;
  method: string;
  params: Record<string, unknown>;
  optimizer: OptimizerConfig | null;
  steps: number;
  batch_size: number;
  labels_per_class: number;
  seed: number;
  eval_every: number;
  knn_k: number;
  knn_temperature: number;
  train_limit: number | null;
  test_limit: number | null;
}

export interface OptimizerConfig {
  kind: string;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weight_decay: number;
  warmup: number;
  cosine: boolean;
}

/** How a reported number reads (Rust `Tag`): losses and ratios/accuracies get separate charts. */
export type Tag = 'loss' | 'ratio' | 'accuracy';

/** A curve a method reports every step (Rust `CurveInfo`). */
export interface Curve {
  name: string;
  tag: Tag;
}

/** A named, tagged number of an evaluation (Rust `Metric`). */
export interface Metric {
  name: string;
  tag: Tag;
  value: number | null;
}

/** Registry metadata of one method (Rust `MethodInfo`). */
export interface MethodInfo {
  id: string;
  family: string;
  name: string;
  paper: string;
  link: string;
  explanation: string;
  uses_labels: boolean;
  curves: Curve[];
  defaults: Record<string, unknown>;
  optimizer: OptimizerConfig;
}

export type Backend = 'webgpu' | 'cpu';

/** Points on the embedding map: the first test images of the split (its PCA uses them all). */
export const MAP_POINTS = 1000;

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface DatasetInfo {
  name: string;
  channels: number;
  height: number;
  width: number;
  class_names: string[];
  n_train: number;
  n_test: number;
  n_labelled: number;
  /** Images without a class, in the training pool only (your own images outside any class folder). */
  n_unlabelled: number;
}

/** One stage of a run and its steps `[start, end)` (Rust `StageSpan`). */
export interface StageSpan {
  name: string;
  start: number;
  end: number;
}

/** Rust `SessionInfo`. */
export interface SessionInfo {
  backend: string;
  dataset: DatasetInfo;
  config: RunConfig;
  num_params: number;
  images_per_step: number;
  method: MethodInfo;
  stages: StageSpan[];
  /** The backbone's stages, in the order of `EvalReport.knn_by_layer`. */
  layers: string[];
  /** The labelled training images (train indices, by class); empty without labels. */
  labelled: number[];
}

/** A step as the wasm session reports it (Rust `StepReport::to_json`): these fields plus one per curve. */
export interface StepReportJson {
  kind: string;
  step: number;
  stage: string;
  lr: number;
  images_per_s: number;
}

/** Rust `EvalReport`. */
export interface EvalReport {
  kind: string;
  step: number;
  stage: string;
  knn_acc: number;
  /** kNN per backbone stage (`SessionInfo.layers`); the last is `knn_acc`. */
  knn_by_layer: number[];
  test_acc: number | null;
  pretext_acc: number | null;
  embedding_std: number | null;
  effective_rank: number | null;
  /** The largest effective rank possible: min(D, images − 1), with at most 512 images when D > 512. */
  rank_limit: number;
  embedding_dim: number;
  metrics: Metric[];
  /** Test images per (true, predicted) class, row-major K×K, for methods with a classifier. */
  confusion: number[] | null;
}

/** The classifier's guess for an unlabelled training image (Rust `PseudoLabel`). */
export interface PseudoLabel {
  index: number;
  predicted: number;
  confidence: number;
  truth: number;
}

/** The run policy after a step (Rust `AfterStep`): the worker follows it as the CLI does. */
export interface AfterStep {
  evaluate: boolean;
  snapshot: boolean;
  finished: boolean;
}

export interface Neighbour {
  index: number;
  label: number;
  similarity: number;
}

/** Host copy of a model state (parameters + BatchNorm statistics), for resuming on the CPU. */
export interface Snapshot {
  step: number;
  tensors: Float32Array[];
}

export interface Thumb {
  index: number;
  label: number;
  pixels: Uint8Array; // [c·h·w]
}

/** A method's diagnostic matrix (Rust `Matrix`), row-major. */
export interface Matrix {
  name: string;
  rows: number;
  cols: number;
  values: number[];
}

/**
 * Where one test image's class token looks in the last transformer block (Rust
 * `AttentionMaps`, `vit-tiny` only): one `rows×cols` map per head and their mean, row-major,
 * each summing to 1; `entropy` is the heads' mean entropy in nats (ln(rows·cols) = uniform).
 */
export interface AttentionMaps {
  index: number;
  rows: number;
  cols: number;
  heads: number[][];
  mean: number[];
  entropy: number;
}

export interface ViewBlock {
  name: string;
  n: number;
  channels: number;
  height: number;
  width: number;
}

export type NeighbourQuery = { kind: 'test'; index: number } | { kind: 'image'; pixels: Float32Array };

export interface StartSpec {
  config: RunConfig;
  /** Absolute URL of the dataset pack, resolved by the page against its own origin; `OWN_DATA_URL` for `pack`. */
  dataUrl: string;
  /** The imported images' pack, for the `own` dataset, and its name (the chosen folder's). */
  pack?: Uint8Array;
  packName?: string;
  backend: Backend;
  /** How many test thumbnails the page shows for neighbour queries. */
  galleryCount: number;
  /** Resume from this state (after a lost GPU), else start from random weights. */
  snapshot?: Snapshot;
}

/** A label-efficiency sweep: `config` at each of `labels` (labels per class), each beside its supervised-only twin. */
export interface SweepSpec {
  config: RunConfig;
  labels: number[];
  dataUrl: string;
  pack?: Uint8Array;
  backend: Backend;
}

/** One point of a sweep: the method's and supervised-only test accuracy at one label count. */
export interface SweepPoint {
  labels: number;
  testAcc: number | null;
  supervisedAcc: number | null;
}

/**
 * Page → worker. The page stamps every command with its current run id (`send` in main.ts);
 * the worker ignores run commands for any other run.
 */
export type ToWorker = (
  | { type: 'start'; spec: StartSpec }
  | { type: 'sweep'; spec: SweepSpec }
  | { type: 'train' }
  | { type: 'pause' }
  | { type: 'stop' }
  | { type: 'neighbours'; id: number; query: NeighbourQuery; k: number }
  /** The method's views of the first `n` train images, or of these test images when given (MaskFeat). */
  | { type: 'views'; id: number; n: number; testIndices?: number[] }
  /** Draw these test images' attention maps now and at every evaluation (`vit-tiny`). */
  | { type: 'attention'; indices: number[] }
  /** Destroy the WebGPU device, as a driver reset would (the browser test's GPU-loss check). */
  | { type: 'simulateDeviceLoss' }
  /** Lay the embedding map out by PCA (the default) or UMAP, now and at every evaluation. */
  | { type: 'mapLayout'; layout: MapLayout }
  /** The Embedding Projector zip of the first `limit` test images. */
  | { type: 'exportProjector'; id: number; limit: number }
  /** The model's weights as safetensors. */
  | { type: 'exportWeights'; id: number }
  /** A copy of the model's state, to keep the run (saved runs). */
  | { type: 'snapshot'; id: number }
  /** Decode the user's images (paths relative to the chosen folder) into the `own` dataset. */
  | { type: 'import'; files: ImportFile[]; size: number; name: string }
  /** Time a few training steps on each backend, to choose one (issue 12, part 1). */
  | { type: 'probe'; spec: ProbeSpec }
  /**
   * The most CPU threads runs may use (`threads=` in the link; 0 = one per core). Sent before any
   * run. `baseline`: CPU runs use `pkg-base/`, the build before issue 12 (no SIMD, one thread),
   * which the benchmark measures side by side with today's (`SSLP_BASELINE=1 build-web.sh`).
   */
  | { type: 'threadLimit'; max: number; baseline?: boolean; preload?: boolean }
  /** How the CNN backbones convolve in this worker's sessions (the benchmark's `conv=`; default `burn`). */
  | { type: 'convPath'; path: ConvPath }
) & { runId?: number };

/**
 * How the CNN backbones compute their convolutions: Burn's `conv2d`, or im2col and one matrix
 * product (`src/backbone/conv.rs`; issue 12, part 4).
 */
export type ConvPath = 'burn' | 'im2col';
export const CONV_PATHS: readonly ConvPath[] = ['burn', 'im2col'];

/** What the backend probe trains: a small run of the bundled dataset at `dataUrl`. */
export interface ProbeSpec {
  config: RunConfig;
  dataUrl: string;
  /** How long WebGPU's set-up and first step may take (ms); past it the CPU wins. */
  deadlineMs: number;
}

/** One backend's figures from the probe. */
export interface ProbeTiming {
  backend: Backend;
  /** The untimed set-up and first step (device, upload, shader compiles), in ms; null when they failed or ran past the deadline. */
  firstStepMs: number | null;
  /** The median of the timed steps after it, in ms; null when there were none. */
  msPerStep: number | null;
  /** How many steps were timed. */
  steps: number;
  /** Why this backend has no figure, else null. */
  error: string | null;
  /** Whether the set-up and first step ran past the probe's deadline (left to finish on their own). */
  timedOut: boolean;
}

/** The backend probe's result: what it trained, and each backend's figures (WebGPU first). */
export interface ProbeResult {
  method: string;
  backbone: string;
  width: number;
  batch: number;
  timings: ProbeTiming[];
  /** The whole probe, dataset included, in ms. */
  ms: number;
  /** WebGPU's deadline to its first step, in ms. */
  deadlineMs: number;
}

/** One file the user chose: its path under the chosen folder (`cats/1.png`), or a `.zip`. */
export interface ImportFile {
  path: string;
  file: File;
}

/** Why a file was not imported. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** What an import made (Rust's `ImportReport`). */
export interface ImportReport {
  size: number;
  channels: number;
  classes: [string, number][];
  train: number;
  test: number;
  /** Images outside any class folder: they train, without a label. */
  unlabelled: number;
  skipped: SkippedFile[];
  hidden: number;
}

/** The dataset id of the user's imported images, and the URL the page gives for it. */
export const OWN_DATASET = 'own';
export const OWN_DATA_URL = 'own:';
/** How the embedding map is laid out: PCA (linear, in Rust) or UMAP (umap-js, in the worker). */
export type MapLayout = 'pca' | 'umap';

/** Test images in a Projector export: the Projector stays responsive at a few thousand. */
export const PROJECTOR_IMAGES = 2000;

/** Rust's `SessionError` kinds (`nan`, `config`, `device`, `checkpoint`) and the worker's own. */
export type ErrorKind = 'load' | 'config' | 'nan' | 'device' | 'checkpoint' | 'query' | 'internal';
export type RunState = 'idle' | 'loading' | 'training' | 'paused' | 'stopped' | 'done' | 'failed';

/** Worker → page. Messages carry the run id they belong to (0 before any run). */
export type FromWorker = (
  | { type: 'hello'; methods: MethodInfo[]; defaults: RunConfig; adapter: AdapterInfo | null; webgpuError: string | null }
  | { type: 'ready'; info: SessionInfo; gallery: Thumb[]; labelled: Thumb[]; resumedFrom: number | null; resumedExact: boolean | null }
  | { type: 'baseline'; knn: number; layers: string[]; byLayer: number[] }
  /** `wasmBytes` and `gpuBytes` (the worker's memory after the step; `gpuBytes` null without WebGPU) are added by the worker. */
  | { type: 'step'; step: number; stage: string; terms: Record<string, number | null>; lr: number; imagesPerS: number; wasmBytes?: number; gpuBytes?: number | null }
  | { type: 'eval'; step: number; stage: string; knn: number; knnByLayer: number[]; testAcc: number | null; pretextAcc: number | null; embeddingStd: number | null; effectiveRank: number | null; rankLimit: number; embeddingDim: number; metrics: Metric[]; confusion: number[] | null }
  | { type: 'pseudoLabels'; step: number; items: (PseudoLabel & { pixels: Uint8Array })[] }
  /** A sweep's progress: run `which` of point `point` (of `total`), at `step` of `steps`. */
  | { type: 'sweepProgress'; point: number; total: number; labels: number; which: 'method' | 'supervised'; step: number; steps: number }
  | ({ type: 'sweepPoint'; index: number; total: number } & SweepPoint)
  | { type: 'state'; state: RunState; step: number }
  | { type: 'neighbours'; id: number; results: (Neighbour & { pixels: Uint8Array })[] }
  | { type: 'views'; id: number; blocks: ViewBlock[]; pixels: Float32Array; testIndices: number[] }
  | { type: 'matrices'; step: number; matrices: Matrix[] }
  | { type: 'attention'; step: number; maps: AttentionMaps[] }
  | { type: 'error'; kind: ErrorKind; message: string; step: number | null; id?: number }
  | { type: 'deviceLost'; message: string; step: number; snapshot: Snapshot | null }
  /**
   * The embedding map at an evaluation: PCA coordinates `[x0, y0, …]` of the first test images;
   * the first map of a run also carries their labels and pixels (`[n, c, h, w]` bytes), for
   * colours and hover images.
   */
  | { type: 'map'; step: number; layout: MapLayout; xy: Float32Array; labels: Uint8Array | null; pixels: Uint8Array | null }
  /** The Embedding Projector zip asked for with `exportProjector`. */
  | { type: 'projectorZip'; id: number; zip: Uint8Array }
  /** The state asked for with `snapshot`. */
  | { type: 'snapshot'; id: number; snapshot: Snapshot }
  /** The weights asked for with `exportWeights`, as a safetensors file, at `step`. */
  | { type: 'weights'; id: number; bytes: Uint8Array; step: number }
  /** An image import's progress: files read of `total`, and how many were skipped so far. */
  | { type: 'importProgress'; done: number; total: number; skipped: number }
  /** The import finished: the `own` dataset is ready (`report`), or could not be made (`error`). */
  | { type: 'imported'; name: string; report: ImportReport | null; error: string | null; pack: Uint8Array | null }
  /** How long a part of the way to the first step took, and the wasm heap after it. */
  | { type: 'timing'; part: TimingPart; ms: number; wasmBytes: number }
  /** The backend probe's figures, for the `probe` message. */
  | { type: 'probe'; result: ProbeResult }
  /** How many threads a CPU session runs on, and why only one (empty when several). */
  | { type: 'cpuThreads'; threads: number; reason: string }
) & { runId?: number };

/**
 * The parts of the way from an opened page to the first step, in order: loading the worker's
 * script (from the worker's creation), compiling and instantiating the wasm module (with the
 * WebGPU adapter probe), loading the multi-threaded CPU build with its pool of workers (where
 * the CPU trains; it overlaps the parts after it), the backend probe where the page runs one (a few timed steps on each
 * backend), fetching the dataset pack, building the session (decoding the pack, the device,
 * the model), and the first step itself. Then two that are off that path: the
 * untrained backbone's kNN baseline (measured after step 1), and the run's last step (`ms` from
 * the start command; the heap then is the run's peak, since wasm memory only grows).
 */
export type TimingPart = 'script' | 'wasm' | 'threads' | 'probe' | 'dataset' | 'session' | 'first step' | 'baseline' | 'last step';

const WORKER_TYPES = new Set(['snapshot', 'weights', 'projectorZip', 'importProgress', 'imported', 'map', 'timing', 'hello', 'ready', 'baseline', 'step', 'eval', 'pseudoLabels', 'sweepProgress', 'sweepPoint', 'state', 'neighbours', 'views', 'matrices', 'attention', 'error', 'deviceLost', 'probe', 'cpuThreads']);

/**
 * Turn the wasm step report (`{kind, step, lr, images_per_s, <term>: value}`) into the compact
 * step message: only the numbers the charts need. Non-finite values travel as `null`.
 */
export function stepMessage(report: Record<string, unknown>): Extract<FromWorker, { type: 'step' }> {
  const terms: Record<string, number | null> = {};
  for (const [key, value] of Object.entries(report)) {
    if (key === 'kind' || key === 'step' || key === 'stage' || key === 'lr' || key === 'images_per_s') continue;
    terms[key] = typeof value === 'number' && Number.isFinite(value) ? value : null;
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const stage = typeof report.stage === 'string' ? report.stage : '';
  return { type: 'step', step: num(report.step), stage, terms, lr: num(report.lr), imagesPerS: num(report.images_per_s) };
}

/** Check that a message from the worker has a known type and the fields the page reads. */
export function parseFromWorker(data: unknown): FromWorker {
  if (typeof data !== 'object' || data === null || !('type' in data)) {
    throw new Error(`malformed worker message: ${JSON.stringify(data)}`);
  }
  const msg = data as { type: unknown } & Record<string, unknown>;
  if (typeof msg.type !== 'string' || !WORKER_TYPES.has(msg.type)) {
    throw new Error(`unknown worker message type: ${String(msg.type)}`);
  }
  if (msg.runId !== undefined && typeof msg.runId !== 'number') throw new Error(`worker message '${msg.type}' has a run id that is not a number`);
  const need = (field: string, kind: string) => {
    if (typeof msg[field] !== kind) throw new Error(`worker message '${msg.type}' lacks ${kind} field '${field}'`);
  };
  switch (msg.type) {
    case 'step':
      need('step', 'number');
      need('terms', 'object');
      need('lr', 'number');
      need('imagesPerS', 'number');
      break;
    case 'eval':
      need('step', 'number');
      break;
    case 'attention':
      need('step', 'number');
      need('maps', 'object');
      break;
    case 'map':
      need('step', 'number');
      if (!(msg.xy instanceof Float32Array)) throw new Error(`worker message 'map' lacks its coordinates`);
      break;
    case 'timing':
      need('part', 'string');
      need('ms', 'number');
      need('wasmBytes', 'number');
      break;
    case 'state':
      need('state', 'string');
      break;
    case 'error':
      need('kind', 'string');
      need('message', 'string');
      break;
    case 'neighbours':
    case 'views':
      need('id', 'number');
      break;
  }
  return msg as unknown as FromWorker;
}
