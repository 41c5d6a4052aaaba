// Saved runs: every finished or stopped run is kept in this browser's IndexedDB (config,
// curves, final kNN and a copy of the weights), so it survives a reload and can be reopened,
// resumed, compared or deleted. Nothing leaves the machine.
import type { KnnDump, TermDump } from './charts';
import type { RunConfig, Snapshot } from './protocol';

export interface SavedCurves {
  loss: TermDump | null;
  ratio: TermDump | null;
  knn: KnnDump | null;
  collapse: TermDump | null;
}

export interface SavedRun {
  /** IndexedDB key; absent until first stored. */
  id?: number;
  savedAt: number;
  config: RunConfig;
  /** Name of the dataset the run trained on (for own images, the chosen folder's). */
  datasetName: string;
  /** Final-layer kNN accuracy at the last evaluation, in [0, 1]. */
  knn: number | null;
  step: number;
  curves: SavedCurves;
  snapshot: Snapshot;
  /** The imported images, for a run on them: without it the run could not be reopened. */
  pack?: Uint8Array;
}

/** What the list shows of a run: no curves, no weights, no images. */
export type RunSummary = Pick<SavedRun, 'id' | 'savedAt' | 'config' | 'datasetName' | 'knn' | 'step'>;

const DB = 'ssl-playground';
/** Whole runs, by id. */
const RUNS = 'runs';
/** Each run's summary under the same id, so that listing reads kilobytes, not every run's weights. */
const SUMMARIES = 'summaries';
/** 1: runs only; 2: summaries beside them. */
const VERSION = 2;

function summaryOf({ id, savedAt, config, datasetName, knn, step }: SavedRun): RunSummary {
  return { id, savedAt, config, datasetName, knn, step };
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, VERSION);
    request.onupgradeneeded = (e) => {
      const db = request.result;
      if (e.oldVersion < 1) db.createObjectStore(RUNS, { keyPath: 'id', autoIncrement: true });
      if (e.oldVersion < 2) {
        const summaries = db.createObjectStore(SUMMARIES, { keyPath: 'id' });
        // Runs saved before summaries existed: read once, here, to summarise them.
        const cursor = request.transaction!.objectStore(RUNS).openCursor();
        cursor.onsuccess = () => {
          const at = cursor.result;
          if (!at) return;
          summaries.put(summaryOf(at.value as SavedRun));
          at.continue();
        };
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      // An older page in another tab must not hold up a later upgrade: let go when one asks.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
    // (onblocked: an old connection elsewhere; each closes after its transaction, or on
    // versionchange, so the upgrade goes on by itself.)
  });
}

/**
 * Run `body` in one transaction over both stores and resolve with its request's result once
 * the transaction commits.
 */
async function tx<T>(mode: IDBTransactionMode, body: (t: IDBTransaction) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction([RUNS, SUMMARIES], mode);
      const request = body(t);
      t.oncomplete = () => resolve(request.result);
      t.onabort = t.onerror = () => reject(t.error ?? request.error ?? new Error('the IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

/** Store `run` (a new record, or the same `id` replaced) and its summary; resolves with its id. */
export function putRun(run: SavedRun): Promise<number> {
  return tx('readwrite', (t) => {
    const put = t.objectStore(RUNS).put(run);
    put.onsuccess = () => t.objectStore(SUMMARIES).put({ ...summaryOf(run), id: put.result as number });
    return put;
  }) as Promise<number>;
}

/** Every saved run's summary (the whole run: `getRun`). */
export function listRuns(): Promise<RunSummary[]> {
  return tx('readonly', (t) => t.objectStore(SUMMARIES).getAll()) as Promise<RunSummary[]>;
}

export function getRun(id: number): Promise<SavedRun | undefined> {
  return tx('readonly', (t) => t.objectStore(RUNS).get(id)) as Promise<SavedRun | undefined>;
}

export function deleteRun(id: number): Promise<undefined> {
  return tx('readwrite', (t) => {
    t.objectStore(SUMMARIES).delete(id);
    return t.objectStore(RUNS).delete(id);
  });
}

/** A readable reason for a failed save: a full disk or quota says so, and what to do. */
export function saveErrorText(e: unknown): string {
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'QuotaExceededError') return "the browser's storage for this page is full; delete saved runs you no longer need, then stop or finish a run to save it again";
  return `${(e as Error)?.message ?? String(e)}`;
}

/** One line about a saved run: method, backbone, dataset, steps, kNN. */
export function runTitle(r: RunSummary): string {
  const knn = r.knn === null ? '–' : `${(r.knn * 100).toFixed(1)} %`;
  return `${r.config.method} · ${r.config.backbone} · ${r.datasetName} · step ${r.step}/${r.config.steps} · kNN ${knn}`;
}
